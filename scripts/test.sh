#!/usr/bin/env bash
# The whole test suite, from a fresh clone: starts or installs what the tests
# need (PostgreSQL, Redis, Chromium, npm packages), then runs gofmt, go vet,
# go test -race and the end-to-end tests against the built binary. Both
# test stages always run; a summary of each ends the output.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '== %s\n' "$*"; }
apt_updated=
apt_install() {
	if [ -z "$apt_updated" ]; then apt-get update -qq; apt_updated=1; fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_postgres() {
	if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
		log "starting PostgreSQL"
		command -v pg_ctlcluster >/dev/null || apt_install postgresql
		local v; v=$(ls /etc/postgresql | head -n1)
		pg_ctlcluster --skip-systemctl-redirect "$v" main start || true
		local up=
		for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && { up=1; break; }; sleep 1; done
		[ -n "$up" ] || { echo "PostgreSQL did not start" >&2; exit 1; }
	fi
	[ -z "${QUIRE_TEST_DATABASE_URL:-}" ] || return 0
	# This machine's PostgreSQL trusts 127.0.0.1; a stock Debian install
	# wants a password there, so give the postgres role one (through the
	# local socket, as the postgres OS user) and put it in the URL.
	local trust="postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	local pw="postgres://postgres:quire-test@127.0.0.1:5432/postgres?sslmode=disable"
	if ! command -v psql >/dev/null || pg_connects "$trust"; then
		QUIRE_TEST_DATABASE_URL=$trust
		return 0
	fi
	if ! pg_connects "$pw"; then
		log "setting a password for the postgres role"
		as_postgres psql -q -c "ALTER ROLE postgres PASSWORD 'quire-test'"
	fi
	pg_connects "$pw" || { echo "cannot connect to PostgreSQL as postgres on 127.0.0.1 (set QUIRE_TEST_DATABASE_URL)" >&2; exit 1; }
	QUIRE_TEST_DATABASE_URL=$pw
}

pg_connects() { PGCONNECT_TIMEOUT=5 psql "$1" -w -Atqc 'select 1' >/dev/null 2>&1; }

as_postgres() {
	if [ "$(id -un)" = postgres ]; then "$@"
	elif command -v runuser >/dev/null; then runuser -u postgres -- "$@"
	else su postgres -c "$(printf '%q ' "$@")"
	fi
}

ensure_redis() {
	if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then return; fi
	log "starting Redis"
	command -v redis-server >/dev/null || apt_install redis-server
	mkdir -p /var/lib/redis /var/log/redis
	redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
		--dir /var/lib/redis --logfile /var/log/redis/ci.log
	for _ in $(seq 1 30); do redis-cli ping >/dev/null 2>&1 && return; sleep 1; done
	echo "Redis did not start" >&2; exit 1
}

ensure_chromium() {
	if [ -x /usr/bin/chromium ]; then return; fi
	log "installing Debian's chromium"
	apt_install chromium
}

ensure_node_modules() {
	if [ -f node_modules/.package-lock.json ] && cmp -s package-lock.json node_modules/.quire-lock; then return; fi
	log "npm ci"
	npm ci --no-audit --no-fund --loglevel=error
	cp package-lock.json node_modules/.quire-lock
}

ensure_postgres
ensure_redis
ensure_chromium
ensure_node_modules

export QUIRE_TEST_DATABASE_URL
export QUIRE_TEST_REDIS_URL="${QUIRE_TEST_REDIS_URL:-redis://127.0.0.1:6379/0}"

log "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' | grep -v '^node_modules/') 2>/dev/null || true)
if [ -n "$unformatted" ]; then echo "gofmt needed:" >&2; echo "$unformatted" >&2; exit 1; fi

log "go vet"
go vet ./...

if [ -f ui/build.mjs ]; then
	log "browser app: rebuild and compare with the committed web/dist"
	node ui/build.mjs
	if ! git diff --quiet -- web/dist || [ -n "$(git ls-files --others --exclude-standard web/dist)" ]; then
		echo "web/dist does not match ui/ sources: run 'make ui' and commit" >&2
		git status --short web/dist >&2
		exit 1
	fi
fi

# Both stages run whatever the first one gives, so that one failing Go
# package does not hide the end-to-end results; the summary says which failed.
log "go test -race"
go_log=$(mktemp)
trap 'rm -f "$go_log"' EXIT
go_status=0
go test -race -count=1 -timeout 10m ./... 2>&1 | tee "$go_log" || go_status=$?
go_failed=$(grep -oE '^FAIL\s+\S+' "$go_log" | awk '{print $2}' | sort -u | tr '\n' ' ' || true)

e2e_status=0
log "building bin/quire"
if go build -o bin/quire ./cmd/quire; then
	shopt -s nullglob
	e2e=(e2e/*.test.mjs)
	if [ ${#e2e[@]} -gt 0 ]; then
		log "end-to-end tests (node --test)"
		QUIRE_BIN="$PWD/bin/quire" node --test --test-concurrency=2 "${e2e[@]}" || e2e_status=$?
	fi
else
	e2e_status=1
fi

log "summary"
if [ "$go_status" -eq 0 ]; then echo "go test: passed"; else echo "go test: FAILED ${go_failed:-(see above)}"; fi
if [ "$e2e_status" -eq 0 ]; then echo "end-to-end: passed"; else echo "end-to-end: FAILED (see the node --test output above)"; fi
if [ "$go_status" -ne 0 ] || [ "$e2e_status" -ne 0 ]; then exit 1; fi
log "all tests passed"
