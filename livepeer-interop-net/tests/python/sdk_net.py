"""Drives Livepeer's Python SDK against livepeer-interop-net's servers.

Reads {"orchestrator": "https://host:port", "signer": "http://host:port"} on stdin, lets
the SDK discover the orchestrator (its gRPC GetOrchestrator over TLS, trusting the
certificate on first use, with the signature from the remote signer), then asks the
remote signer for a live payment through the SDK's PaymentSession, and lets the session
send a second one (carrying the state the first returned) to the orchestrator's
`POST /payment`. Prints what the SDK got as JSON. Exits 3 when the SDK is not installed.
"""

import base64
import json
import sys

try:
    from livepeer_gateway.orch_info import get_orch_info
    from livepeer_gateway.remote_signer import PaymentSession, get_orch_info_sig
except ImportError as e:  # pragma: no cover - reported by the Rust side
    print(f"cannot import livepeer_gateway: {e}", file=sys.stderr)
    sys.exit(3)


def main() -> None:
    args = json.load(sys.stdin)
    material = get_orch_info_sig(args["signer"])
    info = get_orch_info(args["orchestrator"], signer_url=args["signer"])
    session = PaymentSession(args["signer"], info, type="live")
    session.set_manifest_id("python-manifest")
    p = session.get_payment()
    payments = [{"payment": p.payment, "segCreds": p.seg_creds}]
    session.send_payment()
    print(
        json.dumps(
            {
                "signer": {"address": material.address, "signature": material.sig},
                "info": base64.b64encode(info.SerializeToString()).decode("ascii"),
                "payments": payments,
            }
        )
    )


if __name__ == "__main__":
    main()
