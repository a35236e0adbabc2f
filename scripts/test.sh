#!/usr/bin/env bash
# The whole test suite, from a fresh clone: starts or installs what the tests
# need (PostgreSQL, Redis, Chromium, npm packages), then runs gofmt, go vet,
# go test -race and the end-to-end tests against the built binary.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '== %s\n' "$*"; }
apt_updated=
apt_install() {
	if [ -z "$apt_updated" ]; then apt-get update -qq; apt_updated=1; fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_postgres() {
	if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then return; fi
	log "starting PostgreSQL"
	command -v pg_ctlcluster >/dev/null || apt_install postgresql
	local v; v=$(ls /etc/postgresql | head -n1)
	pg_ctlcluster --skip-systemctl-redirect "$v" main start || true
	for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && return; sleep 1; done
	echo "PostgreSQL did not start" >&2; exit 1
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

export QUIRE_TEST_DATABASE_URL="${QUIRE_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}"
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

log "go test -race"
go test -race -count=1 -timeout 10m ./...

log "building bin/quire"
go build -o bin/quire ./cmd/quire

shopt -s nullglob
e2e=(e2e/*.test.mjs)
if [ ${#e2e[@]} -gt 0 ]; then
	log "end-to-end tests (node --test)"
	QUIRE_BIN="$PWD/bin/quire" node --test --test-concurrency=2 "${e2e[@]}"
fi
log "all tests passed"
