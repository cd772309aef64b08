"""The demo city's volumes: items per day by kind, their categories, and the hour-of-day curve of
tickets. Read by the live simulator (ops/simulator.py) and by the past days it seeds
(data/demo_history.py), so both tell the same story."""

from __future__ import annotations

import numpy as np

PER_DAY = {"ticket": 3000.0, "fire": 150.0, "police": 600.0, "alarm": 60.0}
CATEGORIES = {
    "ticket": [
        "环境卫生",
        "占道经营",
        "噪音扰民",
        "道路破损",
        "路灯故障",
        "违章停车",
        "邻里纠纷",
        "供水供电",
        "垃圾清运",
        "政策咨询",
    ],
    "fire": ["住宅火灾", "商铺火灾", "车辆起火", "山林火情"],
    "police": ["治安警情", "盗窃", "纠纷", "交通事故", "可疑人员"],
    "alarm": ["老人血压异常", "一键报警柱"],
}
_HOURLY = np.array(
    [
        0.2,
        0.15,
        0.1,
        0.1,
        0.15,
        0.3,
        0.6,
        1.0,
        1.5,
        1.8,
        1.9,
        1.7,
        1.3,
        1.4,
        1.7,
        1.8,
        1.6,
        1.4,
        1.2,
        1.1,
        0.9,
        0.7,
        0.5,
        0.3,
    ]
)
HOURLY_SHAPE = _HOURLY / _HOURLY.mean()  # mean 1: a day's total matches PER_DAY
