"""Every component id of the app, in one typed place."""

from __future__ import annotations

from enum import StrEnum


class Ids(StrEnum):
    MAP = "command-map"
    LAYERS = "command-layers"
    POLL = "command-poll"
    CURSOR = "command-cursor"
    LIVE_BADGE = "command-live"
    CLOCK = "command-clock"
    FEED = "command-feed"
    KPI_FIRE = "kpi-fire"
    KPI_POLICE = "kpi-police"
    KPI_TICKET = "kpi-ticket"
    KPI_ALARM = "kpi-alarm"
    KPI_UNASSIGNED = "kpi-unassigned"
    KPI_OVERDUE = "kpi-overdue"
    KPI_PARKING = "kpi-parking"
    KPI_ON_DUTY = "kpi-on-duty"


KPI_IDS = {
    "fire": Ids.KPI_FIRE,
    "police": Ids.KPI_POLICE,
    "ticket": Ids.KPI_TICKET,
    "alarm": Ids.KPI_ALARM,
    "unassigned": Ids.KPI_UNASSIGNED,
    "overdue": Ids.KPI_OVERDUE,
    "parking": Ids.KPI_PARKING,
    "on_duty": Ids.KPI_ON_DUTY,
}
