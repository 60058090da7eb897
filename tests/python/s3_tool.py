"""Helpers the S3 end-to-end tests run against the test S3 server, with the
endpoint and credentials from the AWS_* environment:

  s3_tool.py mkbucket NAME
  s3_tool.py upload LOCAL_DIR s3://BUCKET/PREFIX       every file, same layout
  s3_tool.py race BUCKET WRITERS ROUNDS                conditional PUTs to one key
  s3_tool.py table s3://BUCKET/TABLE [VERSION]         rows (JSON lines, sorted) via deltalake
  s3_tool.py digest s3://BUCKET/TABLE [VERSION]        sha256 of each data file of a version
  s3_tool.py versions s3://BUCKET/TABLE                every version, each fully read: JSON
  s3_tool.py state s3://BUCKET/LAKE TABLE...           each table read, run ids by version, runs rows
"""

import hashlib
import json
import os
import sys
import threading
from urllib.parse import urlparse

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError


def client():
    return boto3.client(
        "s3",
        endpoint_url=os.environ["AWS_ENDPOINT_URL"],
        region_name=os.environ.get("AWS_REGION", "us-east-1"),
        config=Config(retries={"max_attempts": 1}),
    )


def storage_options():
    return {
        "AWS_ENDPOINT_URL": os.environ["AWS_ENDPOINT_URL"],
        "AWS_ALLOW_HTTP": "true",
        "AWS_REGION": os.environ.get("AWS_REGION", "us-east-1"),
        "AWS_ACCESS_KEY_ID": os.environ["AWS_ACCESS_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": os.environ["AWS_SECRET_ACCESS_KEY"],
    }


def split(url):
    u = urlparse(url)
    return u.netloc, u.path.lstrip("/")


def upload(local, url):
    bucket, prefix = split(url)
    s3 = client()
    for root, _, files in os.walk(local):
        for name in files:
            path = os.path.join(root, name)
            key = prefix.rstrip("/") + "/" + os.path.relpath(path, local)
            s3.upload_file(path, bucket, key)


def keys(url):
    """Every key under `url`, one per line."""
    bucket, prefix = split(url)
    pages = client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    for page in pages:
        for obj in page.get("Contents", []):
            print(obj["Key"])


def race(bucket, writers, rounds):
    """For each round, `writers` threads create the same new key with
    If-None-Match: *. Prints how many succeeded in each round."""
    s3 = client()
    wins = []
    for r in range(rounds):
        key = f"race/{r}"
        barrier = threading.Barrier(writers)
        ok = []

        def put(i):
            c = client()
            barrier.wait()
            try:
                c.put_object(Bucket=bucket, Key=key, Body=f"writer {i}".encode(), IfNoneMatch="*")
                ok.append(i)
            except ClientError as e:
                code = e.response["Error"]["Code"]
                if code not in ("PreconditionFailed", "ConditionalRequestConflict"):
                    raise

        threads = [threading.Thread(target=put, args=(i,)) for i in range(writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        wins.append({"round": r, "succeeded": len(ok), "winner_stored": body == f"writer {ok[0]}" if ok else False})
    print(json.dumps(wins))


def table(url, version=None):
    from deltalake import DeltaTable

    dt = DeltaTable(url, storage_options=storage_options(), version=version)
    rows = dt.to_pyarrow_table().to_pylist()
    for line in sorted(json.dumps(r, sort_keys=True, default=str) for r in rows):
        print(line)


def digest(url, version=None):
    from deltalake import DeltaTable

    dt = DeltaTable(url, storage_options=storage_options(), version=version)
    bucket, prefix = split(url)
    s3 = client()
    out = []
    for f in dt.file_uris():
        _, key = split(f)
        out.append(hashlib.sha256(s3.get_object(Bucket=bucket, Key=key)["Body"].read()).hexdigest())
    print(json.dumps(sorted(out)))


def versions(url):
    from deltalake import DeltaTable

    dt = DeltaTable(url, storage_options=storage_options())
    run_ids = {c["version"]: c.get("seglake.run_id") for c in dt.history()}
    out = []
    for v in range(dt.version() + 1):
        t = DeltaTable(url, storage_options=storage_options(), version=v)
        out.append({
            "version": v,
            "rows": t.to_pyarrow_table().num_rows,
            "run_id": run_ids.get(v),
        })
    print(json.dumps(out))


def state(lake, tables):
    """Each table read whole at its latest version, the run id of each of
    its versions (from the log), and the rows of `runs`: one JSON object."""
    from deltalake import DeltaTable

    out = {"tables": {}, "runs": []}
    for name in tables:
        dt = DeltaTable(f"{lake}/{name}", storage_options=storage_options())
        rows = dt.to_pyarrow_table()
        run_ids = {c["version"]: c.get("seglake.run_id") for c in dt.history()}
        out["tables"][name] = {
            "rows": rows.num_rows,
            "run_ids": [run_ids.get(v) for v in range(dt.version() + 1)],
        }
        if name == "runs":
            out["runs"] = json.loads(json.dumps(rows.to_pylist(), default=str))
    print(json.dumps(out))


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "mkbucket":
        client().create_bucket(Bucket=args[0])
    elif cmd == "upload":
        upload(args[0], args[1])
    elif cmd == "keys":
        keys(args[0])
    elif cmd == "race":
        race(args[0], int(args[1]), int(args[2]))
    elif cmd == "table":
        table(args[0], int(args[1]) if len(args) > 1 else None)
    elif cmd == "digest":
        digest(args[0], int(args[1]) if len(args) > 1 else None)
    elif cmd == "versions":
        versions(args[0])
    elif cmd == "state":
        state(args[0], args[1:])
    else:
        raise SystemExit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
    # The deltalake wheel's runtime can abort ("terminate called without an
    # active exception") while the interpreter tears down after S3 reads;
    # the work is done and flushed by then, so leave without the teardown.
    sys.stdout.flush()
    os._exit(0)
