"""Bridge between livepeer-interop's tests and Livepeer's Python SDK (livepeer-gateway).

Modes (argument 1):
  schema     print the SDK's net.* message descriptors as JSON
  roundtrip  read [{"message": name, "hex": bytes}] on stdin; parse each with the SDK's
             class, refuse unknown fields, print the SDK's re-encoding as hex
  vectors    print messages the SDK encodes from fixed values, as hex

Exit status 3 means the SDK is not installed.
"""

import json
import sys

try:
    from livepeer_gateway import lp_rpc_pb2 as pb
    from google.protobuf import descriptor as _d
    from google.protobuf import unknown_fields
except ImportError as exc:  # the Rust side turns this into the install command
    sys.stderr.write(f"livepeer-gateway is not importable: {exc}\n")
    sys.exit(3)

SCALARS = {
    _d.FieldDescriptor.TYPE_DOUBLE: "double",
    _d.FieldDescriptor.TYPE_FLOAT: "float",
    _d.FieldDescriptor.TYPE_INT64: "int64",
    _d.FieldDescriptor.TYPE_UINT64: "uint64",
    _d.FieldDescriptor.TYPE_INT32: "int32",
    _d.FieldDescriptor.TYPE_UINT32: "uint32",
    _d.FieldDescriptor.TYPE_BOOL: "bool",
    _d.FieldDescriptor.TYPE_STRING: "string",
    _d.FieldDescriptor.TYPE_BYTES: "bytes",
    _d.FieldDescriptor.TYPE_SINT64: "sint64",
    _d.FieldDescriptor.TYPE_SINT32: "sint32",
    _d.FieldDescriptor.TYPE_FIXED64: "fixed64",
    _d.FieldDescriptor.TYPE_FIXED32: "fixed32",
}


def is_map(field):
    return (
        field.type == _d.FieldDescriptor.TYPE_MESSAGE
        and field.message_type.GetOptions().map_entry
    )


def is_repeated(field):
    if hasattr(field, "is_repeated"):
        return field.is_repeated
    return field.label == _d.FieldDescriptor.LABEL_REPEATED


def type_name(field):
    if is_map(field):
        mt = field.message_type
        return "map<%s,%s>" % (
            type_name(mt.fields_by_name["key"]),
            type_name(mt.fields_by_name["value"]),
        )
    if field.type == _d.FieldDescriptor.TYPE_MESSAGE:
        return field.message_type.full_name
    if field.type == _d.FieldDescriptor.TYPE_ENUM:
        return "enum " + field.enum_type.full_name
    return SCALARS[field.type]


def describe(msg, out):
    fields = {}
    for f in msg.fields:
        t = type_name(f)
        if is_repeated(f) and not is_map(f):
            t = "repeated " + t
        fields[f.name] = {"number": f.number, "type": t}
    out[msg.full_name] = fields
    for nested in msg.nested_types:
        if not nested.GetOptions().map_entry:
            describe(nested, out)


def schema():
    out = {}
    for msg in pb.DESCRIPTOR.message_types_by_name.values():
        describe(msg, out)
    enums = {}
    for msg_name, msg in pb.DESCRIPTOR.message_types_by_name.items():
        for e in msg.enum_types:
            enums[e.full_name] = {v.name: v.number for v in e.values}
    return {"file": pb.DESCRIPTOR.name, "messages": out, "enums": enums}


def unknown(msg, path):
    found = []
    if len(unknown_fields.UnknownFieldSet(msg)) > 0:
        found.append(path or msg.DESCRIPTOR.full_name)
    for f, v in msg.ListFields():
        if f.type != _d.FieldDescriptor.TYPE_MESSAGE:
            continue
        if is_map(f):
            vf = f.message_type.fields_by_name["value"]
            if vf.type == _d.FieldDescriptor.TYPE_MESSAGE:
                for k, item in v.items():
                    found += unknown(item, "%s.%s[%r]" % (path, f.name, k))
        elif is_repeated(f):
            for i, item in enumerate(v):
                found += unknown(item, "%s.%s[%d]" % (path, f.name, i))
        else:
            found += unknown(v, "%s.%s" % (path, f.name))
    return found


def roundtrip(cases):
    out = []
    for case in cases:
        cls = getattr(pb, case["message"])
        m = cls()
        m.ParseFromString(bytes.fromhex(case["hex"]))
        bad = unknown(m, case["message"])
        if bad:
            raise SystemExit("unknown fields in %s: %s" % (case["message"], bad))
        out.append(m.SerializeToString(deterministic=True).hex())
    return out


def ramp(start, n):
    return bytes((start + i) & 0xFF for i in range(n))


def vectors():
    v = {}
    # The fully populated Payment of the payment-canonical fixture's layout.
    payment = pb.Payment(
        ticket_params=pb.TicketParams(
            recipient=ramp(0x01, 20),
            face_value=ramp(0x20, 32),
            win_prob=ramp(0x30, 32),
            recipient_rand_hash=ramp(0x40, 32),
            seed=ramp(0x50, 32),
            expiration_block=ramp(0x60, 8),
        ),
        sender=ramp(0xA0, 20),
        expiration_params=pb.TicketExpirationParams(
            creation_round=12345, creation_round_block_hash=ramp(0x70, 32)
        ),
        ticket_sender_params=[
            pb.TicketSenderParams(sender_nonce=n, sig=ramp(0x7F + n, 65)) for n in (1, 2, 3)
        ],
        expected_price=pb.PriceInfo(pricePerUnit=1000000, pixelsPerUnit=100),
    )
    v["Payment"] = payment.SerializeToString(deterministic=True).hex()

    seg = pb.SegData(
        manifestId=b"manifest",
        seq=-3,
        hash=ramp(0x10, 32),
        profiles=b"invalid",
        sig=ramp(0x90, 65),
        duration=2000,
        auth_token=pb.AuthToken(token=b"tok", session_id="sess", expiration=1700000000),
        calc_perceptual_hash=True,
        fullProfiles3=[
            pb.VideoProfile(
                name="P720p60fps16x9",
                width=1280,
                height=720,
                bitrate=6000000,
                fps=60000,
                fpsDen=1001,
                format=pb.VideoProfile.MP4,
                profile=pb.VideoProfile.H264_HIGH,
                gop=2000,
                encoder=pb.VideoProfile.H265,
                colorDepth=10,
                chromaFormat=pb.VideoProfile.CHROMA_422,
                quality=23,
            )
        ],
        segment_parameters=pb.SegParameters(to=1500),
        ForceSessionReinit=True,
    )
    v["SegData"] = seg.SerializeToString(deterministic=True).hex()

    caps = pb.Capabilities(bitstring=[1, 2**63], mandatories=[4], version="0.9.1")
    caps.capacities[7] = 2
    caps.constraints.minVersion = "0.8.0"
    caps.constraints.PerCapability[27].models["m"].warm = True
    caps.constraints.PerCapability[27].models["m"].capacity = 3
    info = pb.OrchestratorInfo(
        transcoder="https://o.example:8935",
        ticket_params=pb.TicketParams(
            recipient=ramp(0x01, 20),
            face_value=bytes([0x01, 0x00]),
            win_prob=bytes([0xFF] * 32),
            recipient_rand_hash=ramp(0x40, 32),
            seed=bytes([0x05]),
            expiration_block=bytes([0x01, 0x02, 0x03]),
            expiration_params=pb.TicketExpirationParams(
                creation_round=42, creation_round_block_hash=ramp(0x70, 32)
            ),
        ),
        price_info=pb.PriceInfo(pricePerUnit=3, pixelsPerUnit=2),
        address=ramp(0x01, 20),
        capabilities=caps,
        auth_token=pb.AuthToken(token=b"t", session_id="s", expiration=9),
        hardware=[pb.HardwareInformation(pipeline="p", model_id="m")],
        capabilities_prices=[pb.PriceInfo(pricePerUnit=5, pixelsPerUnit=1, capability=27, constraint="m")],
        nodes=["https://n1", "https://n2"],
    )
    v["OrchestratorInfo"] = info.SerializeToString(deterministic=True).hex()

    result = pb.TranscodeResult(
        seq=9,
        data=pb.TranscodeData(
            segments=[pb.TranscodedSegmentData(url="https://o/stream/s/P/9.ts", pixels=123456, perceptual_hash_url="https://o/p")],
            sig=ramp(0x33, 65),
        ),
        info=pb.OrchestratorInfo(transcoder="https://o"),
    )
    v["TranscodeResult"] = result.SerializeToString(deterministic=True).hex()
    v["TranscodeResultError"] = pb.TranscodeResult(seq=1, error="OrchestratorBusy").SerializeToString().hex()
    v["PaymentResult"] = pb.PaymentResult(info=pb.OrchestratorInfo(transcoder="x")).SerializeToString().hex()
    v["OrchestratorRequest"] = pb.OrchestratorRequest(
        address=ramp(0xA0, 20), sig=ramp(0x11, 65), ignoreCapacityCheck=True
    ).SerializeToString().hex()
    return v


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "schema":
        result = schema()
    elif mode == "roundtrip":
        result = roundtrip(json.load(sys.stdin))
    elif mode == "vectors":
        result = vectors()
    else:
        raise SystemExit("usage: sdk_schema.py schema|roundtrip|vectors")
    json.dump(result, sys.stdout, sort_keys=True)


if __name__ == "__main__":
    main()
