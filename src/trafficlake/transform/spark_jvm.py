"""The options of Spark's driver JVM (docs/scale-out.md, "Spark's driver JVM"): tuned for a
short job in a new JVM, and a class-data sharing archive of Spark's classes in the user's cache.

A new driver JVM loads, parses and verifies ~22,000 classes (Spark, Scala, Hadoop, Parquet,
Janino ...) before and while it runs the first query. The first session of an install records
what it loaded (``-XX:+RecordDynamicDumpInfo``) and, when it stops, writes a dynamic AppCDS
archive (``VM.cds dynamic_dump``, JDK 17+) under ``$XDG_CACHE_HOME/trafficlake/spark-cds/``;
later sessions map it (``-XX:SharedArchiveFile``) and skip that work. The archive's name hashes
the Java runtime, the Spark jars and the driver's extra class path, so a changed install makes a
new one (a JVM that finds an archive that does not match its class path ignores it). Any
``-Xshare`` / ``SharedArchiveFile`` / ``ArchiveClassesAtExit`` option in
``spark.driver.extraJavaOptions`` (e.g. ``-Xshare:off``) turns the archive off.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

JAVA_OPTIONS = "spark.driver.extraJavaOptions"

_USER_CDS_OPTIONS = ("-Xshare", "SharedArchiveFile", "ArchiveClassesAtExit", "DynamicDumpInfo")

_QUIET = "-Xlog:cds=off,cds+dynamic=off"
"""The JVM warns on stdout about every class it cannot archive (old class-file versions,
signed jars); those classes are simply loaded as before."""

JIT_OPTIONS = "-XX:FreqInlineSize=100 -XX:InlineSmallCode=1000"
"""Smaller inlining limits for HotSpot's C2 compiler. One transform is a short job in a new JVM:
its first query runs while C2 compiles Spark's code and the query's generated classes on the
same 2 cores, and with the default limits (325 / 2500 bytes) C2 spent ~13 CPU-seconds of a
~40 CPU-second first run compiling."""

GC_OPTION = "-XX:+UseParallelGC"
"""The throughput collector: a batch job wants no concurrent marking threads (G1's cost
~2 CPU-seconds of a first run); pauses do not matter."""

STALE_SECONDS = 3600
"""A partial archive older than this was left by a process that died while writing it."""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "trafficlake" / "spark-cds"


def _java() -> Path | None:
    home = os.environ.get("JAVA_HOME")
    found = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    return Path(found).resolve() if found else None


def _spark_jars() -> Path:
    home = os.environ.get("SPARK_HOME")
    if home:
        return Path(home) / "jars"
    import pyspark

    return Path(pyspark.__file__).parent / "jars"


def archive_path(conf: dict[str, str]) -> Path | None:
    """Where the archive for this Java runtime, Spark install and driver class path lives."""
    java = _java()
    if java is None or not java.exists():
        return None
    digest = hashlib.sha256()
    for path in [java, *sorted(_spark_jars().glob("*.jar"))]:
        st = path.stat()
        digest.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    digest.update(conf.get("spark.driver.extraClassPath", "").encode())
    return cache_dir() / f"spark-{digest.hexdigest()[:16]}.jsa"


def driver_java_options(conf: dict[str, str]) -> tuple[dict[str, str], Path | None]:
    """``conf`` with our options put before the driver's JVM options (the user's own come
    last, so they win): :data:`JIT_OPTIONS`, the parallel collector unless the user picks one,
    the class archive unless the user has CDS options; and the archive to write when the
    session stops (None when it exists or is not wanted)."""
    user = conf.get(JAVA_OPTIONS, "")
    ours = [JIT_OPTIONS]
    if not re.search(r"-XX:\+Use\w*GC\b", user):
        ours.append(GC_OPTION)
    pending = None
    archive = None if any(o in user for o in _USER_CDS_OPTIONS) else archive_path(conf)
    if archive is not None and archive.exists():
        ours.append(f"-XX:SharedArchiveFile={archive} {_QUIET}")
    elif archive is not None:
        ours.append(f"-XX:+RecordDynamicDumpInfo {_QUIET}")
        pending = archive
    return {**conf, JAVA_OPTIONS: " ".join([*ours, user]).strip()}, pending


def write_archive(spark: Any, archive: Path) -> bool:
    """Dump the classes the running driver JVM has loaded into ``archive`` (written to a
    temporary name, then renamed: concurrent writers leave one whole archive). False when the
    JVM cannot (no base CDS archive, an older JDK); the session works the same either way."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    for old in archive.parent.glob("*.jsa.*.tmp"):
        with contextlib.suppress(OSError):
            if time.time() - old.stat().st_mtime > STALE_SECONDS:
                old.unlink()
    tmp = archive.with_name(f"{archive.name}.{os.getpid()}.tmp")
    try:
        _diagnostic_command(spark, "vmCds", "dynamic_dump", str(tmp))
        if tmp.stat().st_size == 0:
            return False
        os.replace(tmp, archive)
        return True
    except Exception:
        return False
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def _diagnostic_command(spark: Any, operation: str, *args: str) -> Any:
    """Run a ``jcmd`` diagnostic command inside the driver JVM (its DiagnosticCommand MBean,
    called through the public ``MBeanServerConnection`` interface: py4j cannot call methods
    of the server's JDK-internal class directly)."""
    gateway, jvm = spark.sparkContext._gateway, spark.sparkContext._jvm

    def array(cls: Any, *items: Any) -> Any:
        out = gateway.new_array(cls, len(items))
        for i, item in enumerate(items):
            out[i] = item
        return out

    klass, string, obj = jvm.java.lang.Class, jvm.java.lang.String, jvm.java.lang.Object
    invoke = klass.forName("javax.management.MBeanServerConnection").getMethod(
        "invoke",
        array(
            klass,
            klass.forName("javax.management.ObjectName"),
            klass.forName("java.lang.String"),
            klass.forName("[Ljava.lang.Object;"),
            klass.forName("[Ljava.lang.String;"),
        ),
    )
    server = jvm.java.lang.management.ManagementFactory.getPlatformMBeanServer()
    name = jvm.javax.management.ObjectName("com.sun.management:type=DiagnosticCommand")
    params = array(obj, array(string, *args))
    return invoke.invoke(
        server, array(obj, name, operation, params, array(string, "[Ljava.lang.String;"))
    )
