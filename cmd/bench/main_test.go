package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestOutputContract: one JSON line per measurement with the PyTorch
// benchmark's fields, plus peak RSS and allocations per step.
func TestOutputContract(t *testing.T) {
	var out, errb bytes.Buffer
	args := []string{"-models", "resnet20", "-infer", "resnet20", "-batch", "2", "-steps", "2", "-warmup", "1", "-threads", "2"}
	if err := run(args, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	var kinds []string
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		for _, k := range []string{"model", "kind", "threads", "batch", "params", "ms_median", "ms_min", "ms_max", "img_per_s", "gflops", "peak_rss_mb", "alloc_bytes_per_step"} {
			if _, ok := r[k]; !ok {
				t.Errorf("%s line lacks %q: %s", r["kind"], k, line)
			}
		}
		if r["params"].(float64) != 269722 || r["ms_median"].(float64) <= 0 {
			t.Errorf("implausible: %s", line)
		}
		kinds = append(kinds, r["kind"].(string))
	}
	if strings.Join(kinds, ",") != "train,infer" {
		t.Errorf("measurements %v, want train then infer", kinds)
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-batch", "0"}, {"-steps", "0"}, {"-models", "resnet21"}} {
		var out, errb bytes.Buffer
		if err := run(args, &out, &errb); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

// TestOps: -ops adds one line per op class after a measurement; the
// classes of a ResNet-20 training step are all there, and they, the SGD
// update and the rest add up to the total.
func TestOps(t *testing.T) {
	var out, errb bytes.Buffer
	args := []string{"-models", "resnet20", "-infer", "", "-batch", "2", "-steps", "2", "-warmup", "1", "-threads", "2", "-ops"}
	if err := run(args, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	ms := map[string]float64{}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var r opRecord
		if err := json.Unmarshal([]byte(line), &r); err == nil && r.Op != "" {
			ms[r.Op] = r.Ms
		}
	}
	sum := 0.0
	for op, v := range ms {
		if op != "total" {
			sum += v
		}
	}
	for _, op := range []string{"conv 3x3 forward", "conv 3x3 input gradient", "conv 3x3 weight gradient", "batch norm forward",
		"batch norm backward", "relu (and residual add) backward", "gradient sums", "loss forward", "sgd update", "framework and the rest", "total"} {
		if _, ok := ms[op]; !ok {
			t.Errorf("no %q line in\n%s", op, out.String())
		}
	}
	if d := sum - ms["total"]; d > 1e-6*ms["total"] || d < -1e-6*ms["total"] || ms["conv 3x3 forward"] <= 0 {
		t.Errorf("the classes add up to %v ms, the total is %v", sum, ms["total"])
	}
}
