"""The schema-based fuzz run of the staff API: schemathesis against the committed document
(api/openapi.json) and the real `api` on the local stack (target/debug/local-api: moto, the
simulator, orders taken in by the real order-sync, the stand-in for API Gateway's JWT check).

Each role's token in turn; the checks: no 5xx, every status, content type and body the
document's. Path ids are fixed to the stack's seller and one of its orders so the requests
reach real records (the fuzzing is in queries, headers and bodies); a fixed seed (FUZZ_SEED to
change) makes a run repeatable. Exit status: schemathesis's, or 1 when the stack did not come up.
"""

import json
import os
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCHEMATHESIS = os.environ.get("SCHEMATHESIS", "schemathesis")
if "/" in SCHEMATHESIS:
    # Runs in a directory of its own: a path is the repository's.
    SCHEMATHESIS = str((ROOT / SCHEMATHESIS).resolve())
SEED = os.environ.get("FUZZ_SEED", "16016")
EXAMPLES = os.environ.get("FUZZ_EXAMPLES", "25")
ROLES = os.environ.get("FUZZ_ROLES", "supervisor,picker,packer,admin,auditor").split(",")
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    ]
)


def main() -> int:
    api = subprocess.Popen(
        [str(ROOT / "target/debug/local-api")],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = api.stdout.readline()
        if not line:
            print("fuzz: the local API did not start (see target/local-stack/api/)", file=sys.stderr)
            return 1
        stack = json.loads(line)
        with tempfile.TemporaryDirectory() as tmp:
            config = pathlib.Path(tmp) / "schemathesis.toml"
            config.write_text(
                "[parameters]\n"
                f'"path.seller_id" = "{stack["seller_id"]}"\n'
                f'"path.order_id" = "{stack["order_ids"][0]}"\n'
                '"path.package_id" = "pkg-1"\n'
            )
            worst = 0
            for role in ROLES:
                print(f"fuzz: as {role}", flush=True)
                rc = subprocess.call(
                    [
                        SCHEMATHESIS,
                        "--config-file",
                        str(config),
                        "run",
                        str(ROOT / "api/openapi.json"),
                        "--url",
                        stack["url"],
                        "-H",
                        f"Authorization: Bearer {stack['tokens'][role]}",
                        "--checks",
                        CHECKS,
                        "--phases",
                        "examples,coverage,fuzzing",
                        "--max-examples",
                        EXAMPLES,
                        "--seed",
                        SEED,
                        "--generation-database",
                        "none",
                        "--workers",
                        "1",
                        "--no-color",
                    ],
                    cwd=tmp,
                )
                print(f"fuzz: as {role}: exit {rc}", flush=True)
                worst = max(worst, rc)
            return worst
    finally:
        # Its standard input closed, local-api stops everything it started.
        api.stdin.close()
        try:
            api.wait(timeout=60)
        except subprocess.TimeoutExpired:
            api.kill()


if __name__ == "__main__":
    sys.exit(main())
