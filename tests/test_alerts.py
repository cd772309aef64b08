import pytest

from config import DEFAULT_SLA_MINUTES
from data import queries
from layouts.alerts import banner_update
from layouts.i18n import Text
from ops import lifecycle
from ops.accounts import SYSTEM, Actor
from ops.alerts import urgent_since
from ops.errors import Forbidden
from ops.incidents import NewIncident, report

OPERATOR = Actor(None, "op", "operator")


def test_new_fires_and_priority_one_items_alert_once_and_others_do_not(city):
    idx = queries.load_grid_index(city)
    p = idx.polygons[0].representative_point()
    q = idx.polygons[5].representative_point()
    start = city.latest_event_id()
    fire, ticket, urgent = report(
        city,
        idx,
        SYSTEM,
        [
            NewIncident("fire", "住宅火灾", "一号楼起火", p.x, p.y, priority=3),
            NewIncident("ticket", "路灯故障", "路灯不亮", q.x, q.y, priority=2),
            NewIncident("police", "盗窃", "电动车被盗", q.x, q.y, priority=1),
        ],
        DEFAULT_SLA_MINUTES,
    )
    first = city.latest_event_id()
    found = urgent_since(city, OPERATOR, start, first)
    assert [a.incident_id for a in found] == [urgent, fire]  # newest first; the priority-2 ticket is not urgent
    assert urgent_since(city, OPERATOR, first, first) == []  # nothing new since this screen's cursor

    # Raised to priority 1 later: an alert then; a cancelled fire never alerts.
    lifecycle.set_priority(city, OPERATOR, ticket, 1, DEFAULT_SLA_MINUTES)
    lifecycle.act_on_item(city, OPERATOR, fire, "cancel", "误报")
    assert [a.incident_id for a in urgent_since(city, OPERATOR, start, city.latest_event_id())] == [ticket, urgent]
    assert [a.incident_id for a in urgent_since(city, OPERATOR, first, city.latest_event_id())] == [ticket]

    with pytest.raises(Forbidden):
        urgent_since(city, Actor(None, "w", "worker"), start, city.latest_event_id())


def test_the_banner_names_kind_id_title_grid_and_counts_the_rest(city):
    idx = queries.load_grid_index(city)
    p = idx.polygons[0].representative_point()
    start = city.latest_event_id()
    q = idx.polygons[9].representative_point()
    (fire,) = report(city, idx, SYSTEM, [NewIncident("fire", "住宅火灾", "一号楼起火", p.x, p.y)], DEFAULT_SLA_MINUTES)
    (second,) = report(city, idx, SYSTEM, [NewIncident("fire", "商铺火灾", "二号楼", q.x, q.y)], DEFAULT_SLA_MINUTES)
    found = urgent_since(city, OPERATOR, start, city.latest_event_id())
    text, item = banner_update(Text("en"), found, {int(idx.ids[9]): "Grid Nine"})
    assert item == second
    assert text == f"Urgent: Fire #{second} 二号楼 · Grid Nine (+1 more)"
    assert fire in [a.incident_id for a in found]
