.PHONY: test run build ui bench fuzz

# The whole suite; installs or starts what it needs (see scripts/test.sh).
test:
	bash scripts/test.sh

run:
	go run ./cmd/quire

build:
	go build -o bin/quire ./cmd/quire

# Rebuild the embedded browser app (web/dist) from ui/.
ui:
	npm ci --no-audit --no-fund --loglevel=error
	node ui/build.mjs

bench:
	go test -run '^$$' -bench . -benchmem ./...
