"""moto server as the local stack runs it: DynamoDB writes atomic per item, as AWS's are.

moto server answers each request on its own thread, and its DynamoDB backend checks a
condition and then writes without a lock, so two concurrent conditional writes to one item can
both pass (a 30-request burst was granted 31 and 32 times). Real DynamoDB applies each
conditional write atomically. This launcher serves moto's own WSGI application, the one
`moto_server` builds, behind a readers-writer lock:

- DynamoDB reads (GetItem, Query, Scan, Describe*, ...) run concurrently with each other;
- every other DynamoDB operation (PutItem, UpdateItem, DeleteItem, BatchWriteItem,
  TransactWriteItems, PartiQL, table changes) and moto's own reset run alone: no read sees
  half a write, and no write interleaves with another. Readers that come after a waiting
  writer wait behind it;
- SQS requests run one at a time (their own lock): moto's queues keep their bookkeeping in
  plain sets, and a ReceiveMessage racing another one failed with "Set changed size during
  iteration" after marking messages received, so those messages were lost to every consumer
  until their visibility timeout (a drain stalled for 360 s, once in about four runs);
- KMS, Secrets Manager and the rest are not held up at all.

It also makes a query on a table's own key read that key's partition only. moto lists and sorts
every item of the table for each such query and then keeps the partition asked for: at 60,000
items (the stock benchmark's 10,000 SKUs) one query took 1.3 s, so the local stack measured moto
rather than the function. moto already holds items per partition (`Table.items[hash][range]`);
the results and their order are the same. Index queries are left as moto makes them.

And a transaction keeps only the items it names for its rollback (moto copies every table it
touches, per item: intake's batched writes measured moto's copying instead of the function);
and SQS counts a queue's messages only when GetQueueAttributes asks (moto counted them for every
message sent or received).

MOTO_TIMINGS=path appends each request's operation, wall and CPU seconds to `path`.

Usage: python moto_server.py -H 127.0.0.1 -p PORT [--plain]
`--plain` serves moto exactly as `moto_server` does, to show what the lock is for.
"""

import argparse
import copy
import os
import signal
import threading
import time

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from werkzeug.serving import run_simple

DYNAMODB_TARGET = "DynamoDB_20120810."
SQS_TARGET = "AmazonSQS."
# Operations that change nothing; everything else DynamoDB serves is treated as a write.
DYNAMODB_READS = frozenset(
    {
        "GetItem",
        "BatchGetItem",
        "Query",
        "Scan",
        "TransactGetItems",
        "DescribeTable",
        "ListTables",
        "DescribeTimeToLive",
        "DescribeContinuousBackups",
        "DescribeEndpoints",
        "DescribeLimits",
        "ListTagsOfResource",
    }
)


class ReadersWriterLock:
    """Many readers or one writer. A writer holds the turnstile, so readers arriving after it
    wait behind it; each release wakes one waiter, not every thread moto has open."""

    def __init__(self):
        self._turnstile = threading.Lock()
        self._readers = 0
        self._readers_done = threading.Condition(threading.Lock())

    def acquire_read(self):
        with self._turnstile:
            with self._readers_done:
                self._readers += 1

    def release_read(self):
        with self._readers_done:
            self._readers -= 1
            if self._readers == 0:
                self._readers_done.notify()

    def acquire_write(self):
        self._turnstile.acquire()
        with self._readers_done:
            while self._readers:
                self._readers_done.wait()

    def release_write(self):
        self._turnstile.release()


def access(environ):
    """'read', 'write' or None (not DynamoDB: no lock) for one request."""
    if environ.get("PATH_INFO", "").startswith("/moto-api/reset"):
        return "write"
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if not target.startswith(DYNAMODB_TARGET):
        return None
    operation = target[len(DYNAMODB_TARGET) :]
    return "read" if operation in DYNAMODB_READS else "write"


class Serialised:
    """moto behind the locks the module's comment describes: DynamoDB's readers-writer lock
    and SQS one request at a time."""

    def __init__(self, app):
        self.app = app
        self.lock = ReadersWriterLock()
        self.queues = threading.Lock()

    def __call__(self, environ, start_response):
        note_request(environ)
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith(SQS_TARGET):
            # moto's queues are not thread-safe: one SQS request at a time (see the module's
            # comment). Nothing here long-polls (WaitTimeSeconds is 0), so no request holds
            # the others up for long.
            with self.queues:
                return list(self.app(environ, start_response))
        kind = access(environ)
        if kind is None:
            return self.app(environ, start_response)
        acquire, release = (
            (self.lock.acquire_read, self.lock.release_read)
            if kind == "read"
            else (self.lock.acquire_write, self.lock.release_write)
        )
        acquire()
        try:
            # The whole answer is made under the lock, not only the call that starts it.
            return list(self.app(environ, start_response))
        finally:
            release()


_partition = threading.local()


def partition_queries():
    """Table.query on the base table reads one partition (see the module's comment)."""
    query, all_items = Table.query, Table.all_items

    def partition_query(self, hash_key, *args, **kwargs):
        # moto's positional order: range_comparison, range_objs, limit, exclusive_start_key,
        # scan_index_forward, projection_expressions, index_name.
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        if index_name or hash_key is None or self.range_key_attr is None:
            return query(self, hash_key, *args, **kwargs)
        _partition.key = hash_key
        try:
            return query(self, hash_key, *args, **kwargs)
        finally:
            _partition.key = None

    def partition_items(self):
        key = getattr(_partition, "key", None)
        if key is None:
            return all_items(self)
        # .get, not []: items is a defaultdict, and a read must not add a partition.
        return sorted(self.items.get(key, {}).values(), key=lambda x: x.range_key)

    Table.query = partition_query
    Table.all_items = partition_items


def item_rollback_transactions():
    """A transaction keeps for its rollback the items it touches, not every table it touches.

    moto's TransactWriteItems deep-copies each table an item of it names, once per item, to
    put back if the transaction is canceled: a transaction of ten items against a table of
    20,000 copied 200,000 items, and intake, which stores a batch in a few transactions, spent
    its time in moto's copies (a 2,000-order benchmark did not finish in 15 minutes). Here the
    tables are handed over as they are and the items the transaction names are copied before
    it and put back if it fails. Writes run alone under the lock above, so nothing else sees
    the items in between, as with DynamoDB's own isolation.
    """
    import moto.dynamodb.models as models

    class TablesKept:
        """The module's `copy` as transact_write_items sees it: tables are not copied."""

        @staticmethod
        def deepcopy(value, memo=None):
            return value if isinstance(value, Table) else copy.deepcopy(value, memo)

        copy = staticmethod(copy.copy)

    models.copy = TablesKept
    transact = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self, transact_items):
        saved = []
        for entry in transact_items:
            try:
                _, op = next(iter(entry.items()))
                table = self.tables[op["TableName"]]
                key = op["Item"] if "Item" in op else op["Key"]
                hash_key = DynamoType(key[table.hash_key_attr])
                range_key = (
                    DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
                )
            except (KeyError, StopIteration, TypeError, AttributeError):
                continue  # moto refuses it itself, before writing anything
            item = table.get_item(hash_key, range_key)
            saved.append((table, hash_key, range_key, copy.deepcopy(item)))
        try:
            return transact(self, transact_items)
        except Exception:
            for table, hash_key, range_key, item in reversed(saved):
                if range_key is None:
                    if item is None:
                        table.items.pop(hash_key, None)
                    else:
                        table.items[hash_key] = item
                elif item is None:
                    table.items.get(hash_key, {}).pop(range_key, None)
                else:
                    table.items[hash_key][range_key] = item
            raise

    models.DynamoDBBackend.transact_write_items = transact_write_items


_request = threading.local()


def note_request(environ):
    """What the request on this thread is, for the patches below."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    # Only GetQueueAttributes answers with the message counts; other calls get them unasked.
    _request.counts_queues = (
        not target.startswith("AmazonSQS.") or target == "AmazonSQS.GetQueueAttributes"
    )


def queue_counts_on_demand():
    """SQS counts a queue's messages only for GetQueueAttributes, which answers with them.

    moto reads a queue's `attributes` (all of them, the message counts included: a walk over
    every message of the queue) for each message sent and each message received, to look up
    one setting: a send to a queue of 1,000 messages took 15 ms, and intake's stock changes,
    which nothing consumes in the benchmark, made every batch slower than the one before.
    The counts stay exact where they are answered.
    """
    from moto.sqs.models import Queue

    for name in (
        "approximate_number_of_messages",
        "approximate_number_of_messages_delayed",
        "approximate_number_of_messages_not_visible",
    ):
        counted = getattr(Queue, name).fget

        def count(self, counted=counted):
            return counted(self) if getattr(_request, "counts_queues", True) else 0

        setattr(Queue, name, property(count))


class Timed:
    """Each request's operation, wall seconds and seconds of its thread's CPU, a line each
    (tab-separated) to the file MOTO_TIMINGS names: to see what moto, not the function,
    spends a benchmark's time on."""

    def __init__(self, app, path):
        self.app = app
        self.out = open(path, "a", buffering=1)
        self.writing = threading.Lock()  # one line at a time from moto's request threads

    def __call__(self, environ, start_response):
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            return list(self.app(environ, start_response))
        finally:
            operation = environ.get("HTTP_X_AMZ_TARGET") or environ.get("PATH_INFO", "")
            wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
            with self.writing:
                self.out.write(f"{operation}\t{wall:.6f}\t{cpu:.6f}\n")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    parser.add_argument("--plain", action="store_true")
    args = parser.parse_args()
    # At once, whatever its request threads are doing: sys.exit would wait for them, and a
    # thread blocked on a kept-alive connection kept moto (and a test run under faketime, whose
    # wrapper waits for every process holding its pipe) alive for good. Nothing to flush: the
    # state is in memory.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    # As moto_server does: moto builds some URLs from it.
    os.environ.setdefault("MOTO_PORT", str(args.port))

    app = DomainDispatcherApplication(create_backend_app)
    app.debug = True
    if not args.plain:
        partition_queries()
        item_rollback_transactions()
        queue_counts_on_demand()
    served = app if args.plain else Serialised(app)
    if os.environ.get("MOTO_TIMINGS"):
        served = Timed(served, os.environ["MOTO_TIMINGS"])
    run_simple(
        args.host,
        args.port,
        served,
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
