"""Jobs in a sales organisation and the CRM habits that come with each of them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Role:
    """Typical day of one job. Rates are per working day, sizes are rows."""

    name: str
    department: str
    share: float
    scope: str  # own | manager | region | all
    events_per_day: float
    mix: tuple[tuple[str, float], ...]
    exports_per_day: float
    export_median: float
    downloads_per_day: float = 0.2
    prints_per_day: float = 0.05
    bulk_per_day: float = 0.0
    wfh: float = 0.3
    evening: float = 0.05
    weekend: float = 0.04
    mobile: float = 0.3
    book: float = 0.7


ROLES: tuple[Role, ...] = (
    Role("sales_rep", "Sales", 0.31, "own", 80,
         (("view", .44), ("search", .20), ("update", .17), ("create", .08), ("report_run", .07),
          ("share", .02), ("delete", .02)),
         exports_per_day=0.30, export_median=35, downloads_per_day=0.25, prints_per_day=0.08,
         wfh=0.35, evening=0.08, weekend=0.06, mobile=0.7, book=0.72),
    Role("account_manager", "Sales", 0.14, "own", 90,
         (("view", .46), ("search", .17), ("update", .19), ("create", .06), ("report_run", .08),
          ("share", .03), ("delete", .01)),
         exports_per_day=0.40, export_median=60, downloads_per_day=0.30, prints_per_day=0.06,
         wfh=0.35, evening=0.07, weekend=0.05, mobile=0.6, book=0.75),
    Role("sales_manager", "Sales", 0.06, "manager", 60,
         (("view", .40), ("search", .13), ("update", .10), ("create", .03), ("report_run", .28),
          ("share", .06)),
         exports_per_day=0.45, export_median=140, downloads_per_day=0.15, prints_per_day=0.05,
         wfh=0.25, evening=0.12, weekend=0.10, mobile=0.8, book=0.45),
    Role("support_agent", "Customer Support", 0.18, "region", 100,
         (("view", .50), ("search", .24), ("update", .19), ("create", .06), ("delete", .01)),
         exports_per_day=0.05, export_median=15, downloads_per_day=0.45, prints_per_day=0.03,
         wfh=0.4, evening=0.02, weekend=0.02, mobile=0.1, book=0.0),
    Role("marketing", "Marketing", 0.06, "all", 55,
         (("view", .30), ("search", .25), ("report_run", .25), ("create", .08), ("update", .08),
          ("share", .04)),
         exports_per_day=0.20, export_median=180, downloads_per_day=0.15, prints_per_day=0.02,
         wfh=0.4, evening=0.03, weekend=0.02, mobile=0.3, book=0.0),
    Role("analyst", "Business Intelligence", 0.06, "all", 45,
         (("view", .22), ("search", .18), ("report_run", .52), ("share", .08)),
         exports_per_day=0.45, export_median=250, downloads_per_day=0.20, prints_per_day=0.02,
         wfh=0.45, evening=0.04, weekend=0.02, mobile=0.1, book=0.0),
    Role("finance", "Finance", 0.06, "all", 50,
         (("view", .30), ("search", .20), ("report_run", .35), ("update", .13), ("share", .02)),
         exports_per_day=0.35, export_median=120, downloads_per_day=0.20, prints_per_day=0.10,
         wfh=0.3, evening=0.03, weekend=0.02, mobile=0.1, book=0.0),
    Role("sales_ops", "Sales Operations", 0.05, "all", 65,
         (("view", .25), ("search", .20), ("update", .30), ("create", .10), ("report_run", .12),
          ("delete", .03)),
         exports_per_day=0.30, export_median=200, downloads_per_day=0.10, prints_per_day=0.01,
         bulk_per_day=0.5, wfh=0.35, evening=0.04, weekend=0.03, mobile=0.1, book=0.0),
    Role("integration", "IT", 0.01, "all", 0,
         (("update", 1.0),), exports_per_day=0.0, export_median=0,
         downloads_per_day=0.0, prints_per_day=0.0, wfh=0.0, evening=0.0, weekend=0.0,
         mobile=0.0, book=0.0),
)
TERRITORY_BOUND: frozenset[str] = frozenset({"sales_rep", "account_manager", "sales_manager"})
