"""JSON -> validated scheduler Call, with the rules of Mesos' JSON-to-protobuf parser.

Mesos turns the JSON body into a `v1::scheduler::Call` with stout's protobuf
parser and then runs `validation::scheduler::call::validate`. Both steps are
copied here *as behaviour*, over a compact hand-written schema (no vendored
.proto files):

* unknown keys are ignored; `null` means unset;
* a scalar or string may be given where a repeated field is expected (it becomes
  one element), as stout does;
* numbers, doubles and bools may be strings; "Infinity"/"-Infinity" for doubles;
* an unknown enum name is dropped on an optional field and is an error on a
  required one ("Failed to find enum for 'X'");
* bytes must be base64 and come out as `bytes`;
* after parsing, missing required fields are listed in protobuf's
  InitializationErrorString format: "a.b, c[0].d".

The result is plain dicts and lists holding only fields of the schema, so the
rest of the simulator can index them without re-checking types. Messages the
simulator does not interpret (health checks, volumes...) are marked `Any`: they
must be JSON objects but are otherwise passed through unchecked.
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any

import orjson


class ConversionError(ValueError):
    """JSON that stout could not turn into the protobuf (HTTP 400)."""


# --- schema -------------------------------------------------------------------

ENUMS: dict[str, frozenset[str]] = {
    "CallType": frozenset(
        "UNKNOWN SUBSCRIBE TEARDOWN ACCEPT DECLINE ACCEPT_INVERSE_OFFERS DECLINE_INVERSE_OFFERS "
        "REVIVE KILL SHUTDOWN ACKNOWLEDGE ACKNOWLEDGE_OPERATION_STATUS RECONCILE "
        "RECONCILE_OPERATIONS MESSAGE REQUEST SUPPRESS UPDATE_FRAMEWORK".split()
    ),
    "CapabilityType": frozenset(
        "UNKNOWN REVOCABLE_RESOURCES TASK_KILLING_STATE GPU_RESOURCES SHARED_RESOURCES "
        "PARTITION_AWARE MULTI_ROLE RESERVATION_REFINEMENT REGION_AWARE".split()
    ),
    # v1 master::Call::Type (the operator API, POST /api/v1).
    "MasterCallType": frozenset(
        "UNKNOWN GET_HEALTH GET_FLAGS GET_VERSION GET_METRICS GET_LOGGING_LEVEL SET_LOGGING_LEVEL "
        "LIST_FILES READ_FILE GET_STATE GET_AGENTS GET_FRAMEWORKS GET_EXECUTORS GET_OPERATIONS GET_TASKS "
        "GET_ROLES GET_WEIGHTS UPDATE_WEIGHTS GET_MASTER SUBSCRIBE RESERVE_RESOURCES UNRESERVE_RESOURCES "
        "CREATE_VOLUMES DESTROY_VOLUMES GROW_VOLUME SHRINK_VOLUME GET_MAINTENANCE_STATUS "
        "GET_MAINTENANCE_SCHEDULE UPDATE_MAINTENANCE_SCHEDULE START_MAINTENANCE STOP_MAINTENANCE "
        "DRAIN_AGENT DEACTIVATE_AGENT REACTIVATE_AGENT GET_QUOTA UPDATE_QUOTA SET_QUOTA REMOVE_QUOTA "
        "TEARDOWN MARK_AGENT_GONE".split()
    ),
    "ValueType": frozenset("SCALAR RANGES SET TEXT".split()),
    "OperationType": frozenset(
        "UNKNOWN LAUNCH LAUNCH_GROUP RESERVE UNRESERVE CREATE DESTROY GROW_VOLUME "
        "SHRINK_VOLUME CREATE_DISK DESTROY_DISK".split()
    ),
    "ExecutorType": frozenset("UNKNOWN DEFAULT CUSTOM".split()),
    "ContainerType": frozenset("DOCKER MESOS".split()),
    "DockerNetwork": frozenset("HOST BRIDGE NONE USER".split()),
    "VolumeMode": frozenset("RW RO".split()),
    "EnvType": frozenset("UNKNOWN VALUE SECRET".split()),
}

_ID = "value:string!"

# Fields in declaration order: name:type, "!" = required, "*" = repeated.
# Scalar types: string bytes double int bool; `Any` = unchecked message.
_SPEC: dict[str, str] = {
    "Call": "framework_id:FrameworkID type:CallType subscribe:Subscribe accept:Accept "
    "decline:Decline kill:Kill shutdown:Shutdown acknowledge:Acknowledge reconcile:Reconcile "
    "message:Message request:Request accept_inverse_offers:AcceptInverseOffers "
    "decline_inverse_offers:DeclineInverseOffers revive:Revive suppress:Suppress "
    "acknowledge_operation_status:AcknowledgeOperationStatus "
    "reconcile_operations:ReconcileOperations update_framework:UpdateFramework",
    # The operator API's call: only its type is modelled (the payloads of the calls the
    # simulator does not answer are not checked).
    "MasterCall": "type:MasterCallType",
    "FrameworkID": _ID,
    "OfferID": _ID,
    "AgentID": _ID,
    "TaskID": _ID,
    "ExecutorID": _ID,
    "OperationID": _ID,
    "ResourceProviderID": _ID,
    "FrameworkInfo": "user:string! name:string! id:FrameworkID failover_timeout:double "
    "checkpoint:bool role:string hostname:string principal:string webui_url:string "
    "capabilities:Capability* labels:Labels roles:string* offer_filters:Any",
    "Capability": "type:CapabilityType",
    "Labels": "labels:Label*",
    "Label": "key:string! value:string",
    "Subscribe": "framework_info:FrameworkInfo! suppressed_roles:string* offer_constraints:Any",
    "UpdateFramework": "framework_info:FrameworkInfo! suppressed_roles:string* offer_constraints:Any",
    "Filters": "refuse_seconds:double",
    "Accept": "offer_ids:OfferID* operations:Operation* filters:Filters",
    "Decline": "offer_ids:OfferID* filters:Filters",
    "AcceptInverseOffers": "inverse_offer_ids:OfferID* filters:Filters",
    "DeclineInverseOffers": "inverse_offer_ids:OfferID* filters:Filters",
    "Revive": "roles:string*",
    "Suppress": "roles:string*",
    "Kill": "task_id:TaskID! agent_id:AgentID kill_policy:KillPolicy",
    "KillPolicy": "grace_period:DurationInfo",
    "DurationInfo": "nanoseconds:int!",
    "Shutdown": "executor_id:ExecutorID! agent_id:AgentID!",
    "Acknowledge": "agent_id:AgentID! task_id:TaskID! uuid:bytes!",
    "AcknowledgeOperationStatus": "agent_id:AgentID resource_provider_id:ResourceProviderID "
    "uuid:bytes! operation_id:OperationID!",
    "Reconcile": "tasks:ReconcileTask*",
    "ReconcileTask": "task_id:TaskID! agent_id:AgentID",
    "ReconcileOperations": "operations:ReconcileOperation*",
    "ReconcileOperation": "operation_id:OperationID! agent_id:AgentID resource_provider_id:ResourceProviderID",
    "Message": "agent_id:AgentID! executor_id:ExecutorID! data:bytes!",
    "Request": "requests:ResourceRequest*",
    "ResourceRequest": "agent_id:AgentID resources:Resource*",
    "Operation": "type:OperationType launch:Launch reserve:Any unreserve:Any create:Any "
    "destroy:Any launch_group:LaunchGroup id:OperationID grow_volume:Any shrink_volume:Any "
    "create_disk:Any destroy_disk:Any",
    "Launch": "task_infos:TaskInfo*",
    "LaunchGroup": "executor:ExecutorInfo! task_group:TaskGroupInfo!",
    "TaskGroupInfo": "tasks:TaskInfo*",
    "TaskInfo": "name:string! task_id:TaskID! agent_id:AgentID! resources:Resource* "
    "executor:ExecutorInfo data:bytes command:CommandInfo health_check:Any container:ContainerInfo "
    "labels:Labels discovery:Any kill_policy:KillPolicy check:Any max_completion_time:DurationInfo "
    "limits:Any",
    "Resource": "name:string! type:ValueType! scalar:Scalar ranges:Ranges set:Set role:string "
    "disk:Any reservation:Any revocable:Any shared:Any allocation_info:AllocationInfo "
    "provider_id:ResourceProviderID reservations:Any*",
    "Scalar": "value:double!",
    "Ranges": "range:Range*",
    "Range": "begin:int! end:int!",
    "Set": "item:string*",
    "AllocationInfo": "role:string",
    "CommandInfo": "uris:URI* environment:Environment value:string user:string shell:bool arguments:string*",
    "URI": "value:string! executable:bool extract:bool cache:bool output_file:string",
    "Environment": "variables:EnvVariable*",
    "EnvVariable": "name:string! value:string type:EnvType secret:Any",
    "ExecutorInfo": "executor_id:ExecutorID! data:bytes resources:Resource* command:CommandInfo "
    "framework_id:FrameworkID name:string source:string container:ContainerInfo discovery:Any "
    "shutdown_grace_period:DurationInfo labels:Labels type:ExecutorType",
    "ContainerInfo": "type:ContainerType! volumes:Volume* docker:DockerInfo hostname:string "
    "mesos:Any network_infos:Any* linux_info:Any rlimit_info:Any tty_info:Any",
    "DockerInfo": "image:string! network:DockerNetwork port_mappings:PortMapping* "
    "privileged:bool parameters:Parameter* force_pull_image:bool volume_driver:string",
    "PortMapping": "host_port:int! container_port:int! protocol:string",
    "Parameter": "key:string! value:string!",
    "Volume": "container_path:string! host_path:string mode:VolumeMode image:Any source:Any",
}

_SCALAR_TYPES = frozenset({"string", "bytes", "double", "int", "bool"})


class _Field:
    __slots__ = ("name", "type", "required", "repeated")

    def __init__(self, spec: str) -> None:
        name, _, type_ = spec.partition(":")
        self.required = type_.endswith("!")
        self.repeated = type_.endswith("*")
        self.name = name
        self.type = type_.rstrip("!*")


def _build() -> dict[str, dict[str, _Field]]:
    messages = {}
    for message, spec in _SPEC.items():
        fields = {}
        for item in spec.split():
            f = _Field(item)
            assert f.type in _SCALAR_TYPES or f.type in ENUMS or f.type in _SPEC or f.type == "Any", f.type
            fields[f.name] = f
        messages[message] = fields
    return messages


MESSAGES = _build()


# --- conversion -----------------------------------------------------------------


def _json_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, list):
        return "array"
    return "null"


def _not_expecting(value: Any, field: _Field) -> ConversionError:
    return ConversionError(f"Not expecting a JSON {_json_kind(value)} for field '{field.name}'")


def _parse_json_scalar(text: str, field: _Field, what: str) -> Any:
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ConversionError(f"Failed to parse '{text}' as a JSON {what} for field '{field.name}': {exc}") from None
    ok = (
        isinstance(parsed, bool)
        if what == "boolean"
        else (isinstance(parsed, (int, float)) and not isinstance(parsed, bool))
    )
    if not ok:
        raise ConversionError(f"Failed to parse '{text}' as a JSON {what} for field '{field.name}': Wrong JSON type")
    return parsed


_DROP = object()  # an unknown enum on an optional field: treated as never set


def _convert_value(value: Any, field: _Field) -> Any:
    """One element of a field (stout's Parser visitor)."""
    t = field.type
    if value is None:
        return _DROP
    if isinstance(value, dict):
        if t == "Any":
            return value
        if t in MESSAGES:
            return _convert_message(value, t)
        raise _not_expecting(value, field)
    if isinstance(value, list):
        # Arrays are unpacked by the caller; a nested array can only be an error.
        raise ConversionError(f"Not expecting a JSON array for field '{field.name}'")
    if isinstance(value, str):
        if t == "string":
            return value
        if t == "bytes":
            try:
                return base64.b64decode(value.encode("ascii"), validate=True)
            except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
                raise ConversionError(f"Failed to base64 decode bytes field '{field.name}': {exc}") from None
        if t in ENUMS:
            if value in ENUMS[t]:
                return value
            if field.required:
                raise ConversionError(f"Failed to find enum for '{value}'")
            return _DROP
        if t == "double":
            if value == "Infinity":
                return math.inf
            if value == "-Infinity":
                return -math.inf
            return float(_parse_json_scalar(value, field, "number"))
        if t == "int":
            return int(_parse_json_scalar(value, field, "number"))
        if t == "bool":
            return _parse_json_scalar(value, field, "boolean")
        raise _not_expecting(value, field)
    if isinstance(value, bool):
        if t == "bool":
            return value
        raise _not_expecting(value, field)
    if isinstance(value, (int, float)):
        if t == "double":
            return float(value)
        if t == "int":
            return int(value)
        raise _not_expecting(value, field)
    raise _not_expecting(value, field)


def _convert_message(obj: dict, message: str) -> dict:
    fields = MESSAGES[message]
    out: dict = {}
    # stout walks a std::map, i.e. keys in sorted order; that decides which error
    # is reported first when several keys are wrong.
    for key in sorted(obj):
        field = fields.get(key)
        if field is None:
            continue
        value = obj[key]
        if isinstance(value, list):
            if not field.repeated:
                raise ConversionError(f"Not expecting a JSON array for field '{field.name}'")
            items = [v for v in (_convert_value(x, field) for x in value) if v is not _DROP]
            if items:
                out.setdefault(key, []).extend(items)
            continue
        converted = _convert_value(value, field)
        if converted is _DROP:
            continue
        if field.repeated:
            out.setdefault(key, []).append(converted)
        else:
            out[key] = converted
    return out


def _missing(obj: dict, message: str, prefix: str, errors: list[str]) -> None:
    """protobuf's FindInitializationErrors: own required fields, then sub-messages."""
    fields = MESSAGES[message]
    for name, field in fields.items():
        if field.required and name not in obj:
            errors.append(prefix + name)
    for name, field in fields.items():
        if name not in obj or field.type not in MESSAGES:
            continue
        if field.repeated:
            for i, item in enumerate(obj[name]):
                _missing(item, field.type, f"{prefix}{name}[{i}].", errors)
        else:
            _missing(obj[name], field.type, f"{prefix}{name}.", errors)


def parse_message(value: Any, message: str) -> dict:
    """Convert parsed JSON into a validated dict of `message`. Raises ConversionError."""
    if not isinstance(value, dict):
        raise ConversionError("Expecting a JSON object")
    out = _convert_message(value, message)
    errors: list[str] = []
    _missing(out, message, "", errors)
    if errors:
        raise ConversionError("Missing required fields: " + ", ".join(errors))
    return out


def parse_call(value: Any) -> dict:
    return parse_message(value, "Call")


def parse_master_call(value: Any) -> dict:
    """POST /api/v1's body as a ``master::Call`` (its type only). Raises ConversionError."""
    return parse_message(value, "MasterCall")


def validate_master_call(call: dict) -> str | None:
    """``validation::master::call::validate``, as far as the simulator answers: the type."""
    return None if "type" in call else "Expecting 'type' to be present"


# --- validation.cpp (scheduler::call::validate) -----------------------------------

_PAYLOAD = {
    "SUBSCRIBE": "subscribe",
    "ACCEPT": "accept",
    "DECLINE": "decline",
    "ACCEPT_INVERSE_OFFERS": "accept_inverse_offers",
    "DECLINE_INVERSE_OFFERS": "decline_inverse_offers",
    "KILL": "kill",
    "SHUTDOWN": "shutdown",
    "ACKNOWLEDGE": "acknowledge",
    "ACKNOWLEDGE_OPERATION_STATUS": "acknowledge_operation_status",
    "RECONCILE": "reconcile",
    "RECONCILE_OPERATIONS": "reconcile_operations",
    "MESSAGE": "message",
    "REQUEST": "request",
    "UPDATE_FRAMEWORK": "update_framework",
}


def _id_value(obj: dict | None) -> str:
    # Comparing two FrameworkID messages where an unset one equals "".
    return (obj or {}).get("value", "")


def valid_uuid_bytes(raw: bytes) -> bool:
    """id::UUID::fromBytes: 16 bytes whose version nibble (boost's version()) is 1-5."""
    return len(raw) == 16 and 1 <= raw[6] >> 4 <= 5


def validate_call(call: dict) -> str | None:
    """The message of the first validation error, or None."""
    if "type" not in call:
        return "Expecting 'type' to be present"
    kind = call["type"]
    payload = _PAYLOAD.get(kind)

    if kind == "SUBSCRIBE":
        if "subscribe" not in call:
            return "Expecting 'subscribe' to be present"
        info_id = call["subscribe"]["framework_info"].get("id")
        if _id_value(info_id) != _id_value(call.get("framework_id")):
            return "'framework_id' differs from 'subscribe.framework_info.id'"
        return None

    if "framework_id" not in call:
        return "Expecting 'framework_id' to be present"
    if payload is not None and payload not in call:
        return f"Expecting '{payload}' to be present"

    if kind == "ACKNOWLEDGE":
        if not valid_uuid_bytes(call["acknowledge"]["uuid"]):
            return "Not a valid UUID"
    elif kind == "ACKNOWLEDGE_OPERATION_STATUS":
        ack = call["acknowledge_operation_status"]
        if not valid_uuid_bytes(ack["uuid"]):
            return "Not a valid UUID"
        if "agent_id" not in ack:
            return "Expecting 'agent_id' to be present"
    elif kind == "UPDATE_FRAMEWORK":
        info_id = call["update_framework"]["framework_info"].get("id")
        if _id_value(info_id) != _id_value(call["framework_id"]):
            return "'framework_id' differs from 'update_framework.framework_info.id'"
    return None
