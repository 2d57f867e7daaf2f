# The project's test command, as the README gives it and CI runs it.
.PHONY: test
test:
	go vet ./...
	go test ./...
	go test -run='^$$' -fuzz=FuzzRead -fuzztime=10s ./safetensors
	go test -run='^$$' -fuzz=FuzzParseRecords -fuzztime=10s ./datasets/cifar10
