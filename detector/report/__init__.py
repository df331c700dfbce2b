"""Reports for the security team: a period's compliance report and incident scopes.

``inputs`` reads actions, directory and events; ``figures`` and ``incidents``
compute what is shown; ``svg`` and ``html`` draw it; ``audit_check`` verifies
the audit trails; ``scope`` turns an incident's customers into keyed
references; ``cli`` registers the commands.
"""
