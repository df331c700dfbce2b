"""Places, territories, network addresses and clocks: the physical facts events must agree with."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import numpy as np

MINUTE_US = 60_000_000
HOUR_US = 60 * MINUTE_US
DAY_US = 24 * HOUR_US
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_EPOCH = datetime(1970, 1, 1)


@dataclass(frozen=True)
class City:
    name: str
    country: str
    lat: float
    lon: float
    tz: str


@dataclass(frozen=True)
class Territory:
    code: str
    region: str
    cities: tuple[City, ...]
    customer_share: float


_HAMBURG = City("Hamburg", "DE", 53.5511, 9.9937, "Europe/Berlin")
_BERLIN = City("Berlin", "DE", 52.5200, 13.4050, "Europe/Berlin")
_HANOVER = City("Hanover", "DE", 52.3759, 9.7320, "Europe/Berlin")
_MUNICH = City("Munich", "DE", 48.1374, 11.5755, "Europe/Berlin")
_STUTTGART = City("Stuttgart", "DE", 48.7758, 9.1829, "Europe/Berlin")
_FRANKFURT = City("Frankfurt", "DE", 50.1109, 8.6821, "Europe/Berlin")
_PARIS = City("Paris", "FR", 48.8566, 2.3522, "Europe/Paris")
_LONDON = City("London", "GB", 51.5072, -0.1276, "Europe/London")
_READING = City("Reading", "GB", 51.4543, -0.9781, "Europe/London")
_NEW_YORK = City("New York", "US", 40.7128, -74.0060, "America/New_York")
_BOSTON = City("Boston", "US", 42.3601, -71.0589, "America/New_York")
_ATLANTA = City("Atlanta", "US", 33.7490, -84.3880, "America/New_York")
_CHICAGO = City("Chicago", "US", 41.8781, -87.6298, "America/Chicago")
_DALLAS = City("Dallas", "US", 32.7767, -96.7970, "America/Chicago")
_MINNEAPOLIS = City("Minneapolis", "US", 44.9778, -93.2650, "America/Chicago")
_SAN_FRANCISCO = City("San Francisco", "US", 37.7749, -122.4194, "America/Los_Angeles")
_SEATTLE = City("Seattle", "US", 47.6062, -122.3321, "America/Los_Angeles")
_LOS_ANGELES = City("Los Angeles", "US", 34.0522, -118.2437, "America/Los_Angeles")
_SINGAPORE = City("Singapore", "SG", 1.3521, 103.8198, "Asia/Singapore")
_TOKYO = City("Tokyo", "JP", 35.6762, 139.6503, "Asia/Tokyo")
_OSAKA = City("Osaka", "JP", 34.6937, 135.5023, "Asia/Tokyo")
_SYDNEY = City("Sydney", "AU", -33.8688, 151.2093, "Australia/Sydney")
_MELBOURNE = City("Melbourne", "AU", -37.8136, 144.9631, "Australia/Melbourne")
_AUCKLAND = City("Auckland", "NZ", -36.8485, 174.7633, "Pacific/Auckland")

TERRITORIES: tuple[Territory, ...] = (
    Territory("DE-North", "EU", (_HAMBURG, _BERLIN, _HANOVER), 0.09),
    Territory("DE-South", "EU", (_MUNICH, _STUTTGART, _FRANKFURT), 0.10),
    Territory("FR-Paris", "EU", (_PARIS,), 0.08),
    Territory("UK-London", "EU", (_LONDON, _READING), 0.11),
    Territory("US-East", "US", (_NEW_YORK, _BOSTON, _ATLANTA), 0.16),
    Territory("US-Central", "US", (_CHICAGO, _DALLAS, _MINNEAPOLIS), 0.11),
    Territory("US-West", "US", (_SAN_FRANCISCO, _SEATTLE, _LOS_ANGELES), 0.14),
    Territory("APAC-SG", "APAC", (_SINGAPORE,), 0.07),
    Territory("APAC-JP", "APAC", (_TOKYO, _OSAKA), 0.08),
    Territory("ANZ", "APAC", (_SYDNEY, _MELBOURNE, _AUCKLAND), 0.06),
)
TERRITORY_CODES: tuple[str, ...] = tuple(t.code for t in TERRITORIES)
REGIONS: dict[str, tuple[int, ...]] = {
    region: tuple(i for i, t in enumerate(TERRITORIES) if t.region == region)
    for region in ("EU", "US", "APAC")
}
NEIGHBOURS: dict[int, tuple[int, ...]] = {
    i: tuple(j for j in REGIONS[t.region] if j != i) for i, t in enumerate(TERRITORIES)
}
HEADQUARTERS: tuple[City, ...] = (_MUNICH, _LONDON, _NEW_YORK)
DATACENTRES: tuple[City, ...] = (City("Frankfurt", "DE", 50.1109, 8.6821, "UTC"),
                                 City("Ashburn", "US", 39.0438, -77.4874, "UTC"))

# Places an intruder (or a stolen session) tends to show up from: none is an office.
FOREIGN_PLACES: tuple[City, ...] = (
    City("Amsterdam", "NL", 52.3676, 4.9041, "Europe/Amsterdam"),
    City("Bucharest", "RO", 44.4268, 26.1025, "Europe/Bucharest"),
    City("Sao Paulo", "BR", -23.5505, -46.6333, "America/Sao_Paulo"),
    City("Lagos", "NG", 6.5244, 3.3792, "Africa/Lagos"),
    City("Hong Kong", "HK", 22.3193, 114.1694, "Asia/Hong_Kong"),
    City("Dubai", "AE", 25.2048, 55.2708, "Asia/Dubai"),
    City("Jakarta", "ID", -6.2088, 106.8456, "Asia/Jakarta"),
    City("Mumbai", "IN", 19.0760, 72.8777, "Asia/Kolkata"),
    City("Toronto", "CA", 43.6532, -79.3832, "America/Toronto"),
    City("Mexico City", "MX", 19.4326, -99.1332, "America/Mexico_City"),
    City("Singapore", "SG", 1.3521, 103.8198, "Asia/Singapore"),
    City("Kyiv", "UA", 50.4501, 30.5234, "Europe/Kyiv"),
)

# First two octets of consumer ISP / carrier ranges per country, for home and mobile addresses.
_ISP_PREFIXES: dict[str, tuple[tuple[int, int], ...]] = {
    "DE": ((85, 214), (91, 64), (79, 192), (93, 128), (178, 24)),
    "FR": ((90, 84), (82, 64), (176, 128), (86, 246)),
    "GB": ((81, 2), (86, 128), (90, 240), (31, 48)),
    "US": ((73, 15), (24, 5), (98, 210), (71, 80), (108, 20), (67, 160)),
    "SG": ((116, 86), (118, 189), (203, 116)),
    "JP": ((126, 25), (153, 200), (219, 100), (60, 32)),
    "AU": ((101, 160), (120, 150), (1, 128), (49, 176)),
    "NZ": ((125, 236), (121, 98), (222, 152)),
    "NL": ((145, 53), (83, 160), (185, 107)),
    "RO": ((86, 120), (188, 24), (79, 112)),
    "BR": ((177, 50), (189, 30), (201, 80)),
    "NG": ((105, 112), (41, 184), (102, 88)),
    "HK": ((112, 118), (14, 0), (219, 76)),
    "AE": ((94, 200), (86, 96), (5, 30)),
    "ID": ((36, 72), (110, 136), (114, 124)),
    "IN": ((49, 36), (106, 200), (117, 96)),
    "CA": ((70, 50), (99, 230), (142, 112)),
    "MX": ((187, 190), (201, 140), (189, 216)),
    "UA": ((93, 72), (176, 36), (46, 211)),
}
_DATACENTRE_PREFIXES: tuple[tuple[int, int], ...] = ((52, 28), (3, 120), (34, 89), (20, 54))


def _host(prefixes: tuple[tuple[int, int], ...], rng: np.random.Generator) -> str:
    r = int(rng.random() * (1 << 40))
    a, b = prefixes[r % len(prefixes)]
    return f"{a}.{b}.{(r >> 8) & 255}.{1 + (r >> 16) % 254}"


def public_ip(country: str, rng: np.random.Generator) -> str:
    return _host(_ISP_PREFIXES.get(country, ((185, 220),)), rng)


def datacentre_ip(rng: np.random.Generator) -> str:
    return _host(_DATACENTRE_PREFIXES, rng)


@cache
def office_subnet(city: City) -> int:
    """Each office has its own internal /16, as the CRM sees it through the corporate network."""
    cities = sorted({c for t in TERRITORIES for c in t.cities}, key=lambda c: c.name)
    return 20 + cities.index(city) if city in cities else 90


def office_ip(city: City, rng: np.random.Generator) -> str:
    r = int(rng.random() * (1 << 30))
    return f"10.{office_subnet(city)}.{1 + r % 39}.{2 + (r >> 8) % 248}"


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(min(1.0, h)))


def city_distance_km(a: City, b: City) -> float:
    return distance_km(a.lat, a.lon, b.lat, b.lon)


@cache
def utc_offset_minutes(tz: str, ordinal: int) -> int:
    """The zone's offset at local noon of that date; DST switches happen at night."""
    noon = datetime.combine(date.fromordinal(ordinal), datetime.min.time()) + timedelta(hours=12)
    off = noon.replace(tzinfo=ZoneInfo(tz)).utcoffset()
    return int(off.total_seconds() // 60) if off is not None else 0


def midnight_us(ordinal: int) -> int:
    """Epoch microseconds of 00:00 on that date, read as if it were UTC."""
    return (ordinal - _EPOCH_ORDINAL) * DAY_US


def local_to_utc_us(tz: str, ordinal: int, minutes: float) -> int:
    """Local wall time (minutes after midnight of ``ordinal``, may exceed a day) to epoch µs."""
    day = ordinal + int(minutes // 1440)
    return midnight_us(ordinal) + round(minutes * MINUTE_US) - (
        utc_offset_minutes(tz, day) * MINUTE_US)


def local_to_utc_array(tz: str, ordinal: int, minutes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vector form of :func:`local_to_utc_us`; also returns each instant's offset in minutes."""
    off0 = utc_offset_minutes(tz, ordinal)
    off1 = utc_offset_minutes(tz, ordinal + 1)
    if off0 == off1:
        offs = np.full(minutes.shape, off0, dtype=np.int16)
    else:
        offs = np.where(minutes >= 1440.0, off1, off0).astype(np.int16)
    t = midnight_us(ordinal) + np.round(minutes * MINUTE_US).astype(np.int64)
    return t - offs.astype(np.int64) * MINUTE_US, offs


def utc_local_minutes(t_us: int, tz: str) -> tuple[int, float]:
    """Epoch µs to (local date ordinal, minutes after local midnight)."""
    ordinal = _EPOCH_ORDINAL + t_us // DAY_US
    off = utc_offset_minutes(tz, ordinal)
    local = t_us + off * MINUTE_US
    day = _EPOCH_ORDINAL + local // DAY_US
    if day != ordinal:
        local = t_us + utc_offset_minutes(tz, day) * MINUTE_US
        day = _EPOCH_ORDINAL + local // DAY_US
    return int(day), (local % DAY_US) / MINUTE_US


def offset_suffix(minutes: int) -> str:
    if minutes == 0:
        return "+00:00"
    sign = "+" if minutes > 0 else "-"
    m = abs(minutes)
    return f"{sign}{m // 60:02d}:{m % 60:02d}"


def format_instant(t_us: int, offset_minutes: int | None = None) -> str:
    """RFC 3339 text, in UTC ("Z") unless an offset is given; fractions only when present."""
    local = t_us + (offset_minutes or 0) * MINUTE_US
    whole, frac = divmod(local, 1_000_000)
    text = (_EPOCH + timedelta(seconds=whole)).isoformat()
    if frac:
        text += f".{frac:06d}" if frac % 1000 else f".{frac // 1000:03d}"
    return text + ("Z" if offset_minutes is None else offset_suffix(offset_minutes))
