"""Documents that cross a boundary: JSON decoding, times, events, commands, actions, OCSF."""
