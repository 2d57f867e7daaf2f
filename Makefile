# The project's test command, as the README gives it and CI runs it.
#
# The fuzz budgets are execution counts, not durations: when a -fuzztime
# duration expires, Go 1.26's fuzz coordinator can race its own deadline and
# fail with a bare "context deadline exceeded" that names no input
# (golang/go#75804, fixed in Go 1.27). A count sets no deadline. Each is
# about 5-10 s of fuzzing on the 2-core machine. Minimizing a new input
# gets a count too: its default, 60 s, once stalled FuzzRead for 50 s.
# staticcheck is pinned so that a new release cannot turn CI red by itself.
STATICCHECK = honnef.co/go/tools/cmd/staticcheck@v0.8.2
.PHONY: test
test:
	@unformatted=$$(gofmt -l .); if [ -n "$$unformatted" ]; then echo "not gofmt'd: $$unformatted"; exit 1; fi
	go vet ./...
	go run $(STATICCHECK) ./...
	go test ./...
	go test -run='^$$' -fuzz=FuzzRead -fuzztime=300000x -fuzzminimizetime=2000x ./safetensors
	go test -run='^$$' -fuzz=FuzzParseRecords -fuzztime=100000x -fuzzminimizetime=2000x ./datasets/cifar10
	bash deploy/check.sh
	go test -run='^$$' -fuzz=FuzzLoadImage -fuzztime=30000x -fuzzminimizetime=2000x ./predict
