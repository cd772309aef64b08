"""Every component id of the app, in one typed place."""

from __future__ import annotations

from enum import StrEnum


class Ids(StrEnum):
    MAP = "command-map"
    LAYERS = "command-layers"
    POLL = "command-poll"
    CURSOR = "command-cursor"
    LIVE_BADGE = "command-live"
    HEARTBEAT = "command-heartbeat"
    WATCHDOG = "command-watchdog"
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
    QUEUE_SEARCH = "command-queue-search"
    QUEUE_KINDS = "command-queue-kinds"
    QUEUE_PRIORITIES = "command-queue-priorities"
    QUEUE_FLAGS = "command-queue-flags"
    QUEUE_PAGE = "command-queue-page"
    QUEUE_PREV = "command-queue-prev"
    QUEUE_NEXT = "command-queue-next"
    QUEUE_TOTAL = "command-queue-total"
    QUEUE_NEW = "command-queue-new"
    QUEUE_HOLD = "command-queue-hold"
    MAP_AIM = "command-map-aim"  # the pointer is moving over the map: the operator is aiming at a point
    QUEUE_SHOWN = "command-queue-shown"
    SELECTED = "command-selected"
    SELECTION = "command-selection"
    DETAIL = "command-detail"
    DETAIL_HEAD = "command-detail-head"
    DETAIL_FORM = "command-detail-form"
    DETAIL_SUGGEST = "command-detail-suggest"
    DETAIL_CANCEL_WRAP = "command-detail-cancel-wrap"
    DETAIL_HISTORY = "command-detail-history"
    DETAIL_STATE = "command-detail-state"
    RANKING = "command-ranking"
    RERANK = "command-rerank"
    RANKING_RULE = "command-ranking-rule"
    CASE_ACTIONS = "command-case-actions"
    CASE_BADGE = "command-case-badge"
    CASE_NOTE = "command-case-note"
    CASE_DEPARTMENT = "command-case-department"
    CASE_UNTIL = "command-case-until"
    CASE_PHOTOS = "command-case-photos"  # photos for the department's handled report (处理反馈)
    CASE_PHOTOS_INFO = "command-case-photos-info"
    DETAIL_CLOSE = "command-detail-close"
    CANCEL_REASON = "command-cancel-reason"
    CANCEL = "command-cancel"
    PRIORITY = "command-priority"
    # What a person pressed or chose, relayed by the browser (a panel drawn by the server fires none of them).
    ASSIGN_PRESSED = "command-assign-pressed"
    CASE_PRESSED = "command-case-pressed"
    WARNING_PRESSED = "command-warning-pressed"
    PRIORITY_SHOWN = "command-priority-shown"
    PRIORITY_CHOSEN = "command-priority-chosen"
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
    PUSH_POLL = "push-poll"
    PUSH_PROGRESS = "push-progress"
    PUSH_RESULT = "push-result"
    PUSH_DOWNLOAD_BUTTON = "push-download-button"
    PUSH_DOWNLOAD = "push-download"
    WARNINGS = "command-warnings"
    WARNING_BADGE = "command-warning-badge"


class ShellIds(StrEnum):
    URL = "shell-url"
    PAGE = "shell-page"
    NOTICES = "shell-notices"  # where a callback that met a store outage says so


class WorkerIds(StrEnum):
    POLL = "worker-poll"
    CURSOR = "worker-cursor"
    INBOX = "worker-inbox"
    CHECKS = "worker-checks"  # 待核实 / 待核查: cases of the worker's grid waiting for their on-site check
    MAP = "worker-map"
    CONSENT = "worker-consent"
    POSITION = "worker-position"
    MESSAGE = "worker-message"
    LIVE = "worker-live"
    HEARTBEAT = "worker-heartbeat"
    WATCHDOG = "worker-watchdog"
    DIGEST = "worker-digest"
    ME = "worker-me"
    OUTBOX = "worker-outbox"
    OUTBOX_TEXTS = "worker-outbox-texts"
    FLUSH = "worker-flush"
    SENT = "worker-sent"
    NOTICES = "worker-notices"
    ONLINE = "worker-online"
    BANNER = "worker-banner"


ASSIGN = "assign-worker"  # pattern-matching id type: {"type": ASSIGN, "worker": id}
CASE_ACTION = "case-action"  # {"type": CASE_ACTION, "action": "sign"|"return"|…|"check_failed"}
TASK_ACTION = "task-action"  # {"type": TASK_ACTION, "task": id, "action": name}
TASK_NOTE = "task-note"  # {"type": TASK_NOTE, "task": id}
TASK_PHOTO = "task-photo"  # {"type": TASK_PHOTO, "task": id}
TASK_PENDING = "task-pending"  # {"type": TASK_PENDING, "task": id}: "waiting to send" on a card
SITE_MOVE = "site-move"  # {"type": SITE_MOVE, "case": id, "action": "verify"|"check", "answer": "valid"|…|"failed"}
SITE_NOTE = "site-note"  # {"type": SITE_NOTE, "case": id}
SITE_PENDING = "site-pending"  # {"type": SITE_PENDING, "case": id}
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
    FRAME_SHOWN = "review-frame-shown"
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
    ITEM = "review-item"
    PARKING_TABLE = "review-parking-table"
    PARKING_HOURS = "review-parking-hours"
    CSV = "review-csv"
    GEOJSON = "review-geojson"
    PNG = "review-png"
    PNG_DONE = "review-png-done"
    SHEET = "review-sheet"


class EvaluationIds(StrEnum):
    """The evaluation (综合评价) section of the review page."""

    SECTION = "eval-section"
    SUMMARY = "eval-summary"
    LEAGUE = "eval-league"
    INDICATOR = "eval-indicator"
    MAP = "eval-map"
    DRILL_TITLE = "eval-drill-title"
    CASES = "eval-cases"
    TIMELINE = "eval-timeline"
    URGE_NOTE = "eval-urge-note"
    URGE_DEPARTMENT = "eval-urge-department"
    URGE_CASE = "eval-urge-case"
    URGE_RESULT = "eval-urge-result"
    URGED = "eval-urged"
    DATA = "eval-data"
    PICKED = "eval-picked"
    REPORT_MONTH = "eval-report-month"
    REPORT_LINK = "eval-report-link"


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


class DepartmentsIds(StrEnum):
    GRID = "departments-grid"
    ADD = "departments-add"
    DISTRICTS = "departments-districts"
    SAVE = "departments-save"
    RELOAD = "departments-reload"
    STATUS = "departments-status"
    GEOJSON = "departments-geojson"
    CSV = "departments-csv"
    IMPORT = "departments-import"
    IMPORT_STATUS = "departments-import-status"


class AlertIds(StrEnum):
    """The wall's alert banner for a new fire or priority-1 item (``layouts/alerts.py``)."""

    BANNER = "alert-banner"
    OPEN = "alert-open"
    DISMISS = "alert-dismiss"
    ITEM = "alert-item"
    CURSOR = "alert-cursor"
    TONE = "alert-tone"
    TONE_PLAYED = "alert-tone-played"
