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


class CommandIds(StrEnum):
    QUEUE = "command-queue"
    SELECTED = "command-selected"
    SELECTION = "command-selection"
    DETAIL = "command-detail"
    DETAIL_BODY = "command-detail-body"
    DETAIL_CLOSE = "command-detail-close"
    CANCEL_REASON = "command-cancel-reason"
    CANCEL = "command-cancel"
    PRIORITY = "command-priority"
    BULK = "command-bulk"
    BULK_INFO = "command-bulk-info"
    MESSAGE = "command-message"
    VIEW = "command-view"
    DIGESTS = "command-digests"
    ROOT = "command-root"
    MAP_WRAP = "command-map-wrap"
    HOME = "command-home"
    HOME_BOUNDS = "command-home-bounds"
    WALL = "command-wall"
    WALL_TOGGLE = "command-wall-toggle"
    PUSH_UPLOAD = "push-upload"
    PUSH_JOB = "push-job"
    PUSH_PROGRESS = "push-progress"
    PUSH_RESULT = "push-result"
    PUSH_DOWNLOAD_BUTTON = "push-download-button"
    PUSH_DOWNLOAD = "push-download"
    WARNINGS = "command-warnings"
    WARNING_BADGE = "command-warning-badge"


class ShellIds(StrEnum):
    URL = "shell-url"
    PAGE = "shell-page"


class WorkerIds(StrEnum):
    POLL = "worker-poll"
    CURSOR = "worker-cursor"
    INBOX = "worker-inbox"
    MAP = "worker-map"
    CONSENT = "worker-consent"
    POSITION = "worker-position"
    MESSAGE = "worker-message"
    LIVE = "worker-live"


ASSIGN = "assign-worker"  # pattern-matching id type: {"type": ASSIGN, "worker": id}
TASK_ACTION = "task-action"  # {"type": TASK_ACTION, "task": id, "action": name}
TASK_NOTE = "task-note"  # {"type": TASK_NOTE, "task": id}
TASK_PHOTO = "task-photo"  # {"type": TASK_PHOTO, "task": id}
WARNING_ACTION = "warning-action"  # {"type": WARNING_ACTION, "warning": id, "action": "acknowledge"|"resolve"}


class ReviewIds(StrEnum):
    RANGE = "review-range"
    DATES = "review-dates"
    KINDS = "review-kinds"
    CATEGORIES = "review-categories"
    DISTRICTS = "review-districts"
    STATUSES = "review-statuses"
    FILTERS = "review-filters"
    MODE = "review-mode"
    METRIC = "review-metric"
    HEX_RES = "review-hex-res"
    MAP = "review-map"
    SUMMARY = "review-summary"
    PLAY = "review-play"
    SPEED = "review-speed"
    FRAME = "review-frame"
    FRAME_LABEL = "review-frame-label"
    TICK = "review-tick"
    FRAMES = "review-frames"
    HOUR_CHART = "review-hour-chart"
    DAY_CHART = "review-day-chart"
    RESPONSE_CHART = "review-response-chart"
    BACKLOG_CHART = "review-backlog-chart"
    GRID_TABLE = "review-grid-table"
    WARNINGS_TABLE = "review-warnings-table"
    WARNINGS_SUMMARY = "review-warnings-summary"
    WORKER_TABLE = "review-worker-table"
    DRILL = "review-drill"
    DRILL_TITLE = "review-drill-title"
    PARKING_TABLE = "review-parking-table"
    PARKING_HOURS = "review-parking-hours"
    CSV = "review-csv"
    GEOJSON = "review-geojson"
    PNG = "review-png"
    PNG_DONE = "review-png-done"


REVIEW_GRAPHS = (
    ReviewIds.MAP,
    ReviewIds.HOUR_CHART,
    ReviewIds.DAY_CHART,
    ReviewIds.RESPONSE_CHART,
    ReviewIds.BACKLOG_CHART,
    ReviewIds.PARKING_HOURS,
)


class RulesIds(StrEnum):
    GRID = "rules-grid"
    ADD = "rules-add"
    DELETE = "rules-delete"
    SAVE = "rules-save"
    RELOAD = "rules-reload"
    STATUS = "rules-status"
