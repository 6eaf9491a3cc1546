"""Release operations as a plain engine library: prepare, schema-change pause, cutover,
rollback, re-seed and the rolling upgrade.

Each operation takes a :class:`ReleasePair` (URLs as SecretStr, the traffic switch's labels for
the two databases, the sync settings) and, where traffic moves, a :class:`TrafficSwitch`. It is
built as a :class:`PhasePlan` of named phases (``dry_run=True`` returns the plan without running
it, or with only the read-only preflight for a cutover), runs them with optional
:class:`PhaseHooks`, and returns a receipt dataclass (``as_dict()``, ``markdown()``) or raises a
:class:`ReleaseFailed` whose ``receipt`` says which phase failed, why, the fix, and what was
undone. Nothing here imports Prefect: the flows wrap these functions.
"""

from bluegreen.release.baseline import CopyResult, clean_copy, copy_as_green, record_baseline
from bluegreen.release.cutover import (
    CutoverFailed,
    CutoverPlan,
    CutoverReceipt,
    RollbackReceipt,
    VerificationFailed,
    cutover,
    freeze,
    plan_cutover,
    rollback,
    unfreeze,
)
from bluegreen.release.load import LoadProgress, LoadReport, initial_load
from bluegreen.release.pair import ReleasePair
from bluegreen.release.preflight import DEFAULT_APPLY_RATE, Gate, Preflight, run_preflight
from bluegreen.release.prepare import (
    BlueCheck,
    PrepareReceipt,
    check_blue,
    plan_prepare,
    prepare_green,
)
from bluegreen.release.records import (
    Finding,
    GateFailed,
    Phase,
    PhaseHooks,
    PhasePlan,
    PhaseRecord,
    Receipt,
    ReleaseFailed,
)
from bluegreen.release.reseed import ReseedReceipt, reseed_green
from bluegreen.release.rolling import RollingReceipt, rolling_upgrade
from bluegreen.release.schema_change import (
    SchemaChangeReport,
    SchemaDiff,
    SchemaGuard,
    SchemaPause,
    check_schema_change,
    diff_schemas,
    pause_for_schema_change,
)
from bluegreen.release.store import ReleaseStore
from bluegreen.release.switch import (
    CommandSwitch,
    FileSwitch,
    SwitchError,
    TrafficSwitch,
    WebhookSwitch,
)
from bluegreen.release.verify import TableCheck, VerifyReport, verify_pair

__all__ = [
    "DEFAULT_APPLY_RATE",
    "BlueCheck",
    "CommandSwitch",
    "CopyResult",
    "CutoverFailed",
    "CutoverPlan",
    "CutoverReceipt",
    "FileSwitch",
    "Finding",
    "Gate",
    "GateFailed",
    "LoadProgress",
    "LoadReport",
    "Phase",
    "PhaseHooks",
    "PhasePlan",
    "PhaseRecord",
    "Preflight",
    "PrepareReceipt",
    "Receipt",
    "ReleaseFailed",
    "ReleasePair",
    "ReleaseStore",
    "ReseedReceipt",
    "RollbackReceipt",
    "RollingReceipt",
    "SchemaChangeReport",
    "SchemaDiff",
    "SchemaGuard",
    "SchemaPause",
    "SwitchError",
    "TableCheck",
    "TrafficSwitch",
    "VerificationFailed",
    "VerifyReport",
    "WebhookSwitch",
    "check_blue",
    "check_schema_change",
    "clean_copy",
    "copy_as_green",
    "cutover",
    "diff_schemas",
    "freeze",
    "initial_load",
    "pause_for_schema_change",
    "plan_cutover",
    "plan_prepare",
    "prepare_green",
    "record_baseline",
    "reseed_green",
    "rollback",
    "rolling_upgrade",
    "run_preflight",
    "unfreeze",
    "verify_pair",
]
