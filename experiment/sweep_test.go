package experiment

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gorgonia-zoo/resnet/internal/synthetic"
	"github.com/gorgonia-zoo/resnet/train"
	"github.com/pkg/errors"
)

// TestSweepInterruptAndResume: an interrupted sweep resumes where it
// stopped and ends with every run finished and the summary files.
func TestSweepInterruptAndResume(t *testing.T) {
	ds := synthetic.CIFAR10(64, 32)
	a, b := tiny("resnet20"), tiny("plain20")
	s := &Sweep{Preset: "test", Runs: []train.Config{a, b}}
	dir := filepath.Join(t.TempDir(), "sweep")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := RunSweep(ctx, s, ds, dir, Shard{}, train.Output{}); !errors.Is(err, train.ErrInterrupted) {
		t.Fatalf("got %v, want train.ErrInterrupted", err)
	}
	other := &Sweep{Preset: "test", Runs: []train.Config{a}}
	if _, err := RunSweep(context.Background(), other, ds, dir, Shard{}, train.Output{}); err == nil || !strings.Contains(err.Error(), "holds another sweep") {
		t.Fatalf("another sweep into the directory: got %v, want a refusal", err)
	}
	rs, err := RunSweep(context.Background(), nil, ds, dir, Shard{}, train.Output{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[0].Iters != 4 || rs[1].Iters != 4 || rs[1].Model != "plain20" {
		t.Fatalf("results %+v", rs)
	}
	for _, f := range []string{Fig6File, SummaryMDFile, SummaryJSONFile} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s missing", f)
		}
	}
	pts, err := train.ReadMetrics(filepath.Join(dir, "resnet20", train.MetricsFile))
	if err != nil || len(pts) != 4 {
		t.Fatalf("resnet20 metrics: %d points (%v), want 4 without duplicates", len(pts), err)
	}
}

// TestSweepKeep: -models cuts a preset to the named nets in the preset's
// order, and a net the preset lacks is refused by name.
func TestSweepKeep(t *testing.T) {
	s, err := Preset("fig6-quick")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Keep([]string{"resnet56", "resnet20"}); err != nil {
		t.Fatal(err)
	}
	if len(s.Runs) != 2 || s.Runs[0].Model != "resnet20" || s.Runs[1].Model != "resnet56" || s.Runs[1].Iters != QuickIters {
		t.Fatalf("kept %+v", s.Runs)
	}
	s, _ = Preset("fig6-quick")
	err = s.Keep([]string{"resnet20", "resnet110"})
	if err == nil || !strings.Contains(err.Error(), `"resnet110" is not in the fig6-quick sweep (plain20, plain56, resnet20, resnet56)`) {
		t.Fatalf("got %v, want resnet110 refused", err)
	}
	if len(s.Runs) != 4 {
		t.Errorf("a refused Keep changed the sweep: %d runs", len(s.Runs))
	}
}

// tiny is a run of model that trains in seconds on synthetic.CIFAR10(64, 32).
func tiny(model string) train.Config {
	c := train.Paper(model)
	c.Iters, c.BatchSize, c.EvalBatch, c.Milestones = 4, 8, 32, []int{2}
	c.EvalEvery, c.LogEvery, c.CkptEvery = 2, 1, 2
	return c
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// TestGridPreset: the short grid holds Figure 6's nine nets at the quick
// schedule, ResNet-110 warming up as in the paper, and the quick preset
// is the same schedule (its committed results stay comparable).
func TestGridPreset(t *testing.T) {
	grid, err := Preset("fig6-grid-quick")
	if err != nil {
		t.Fatal(err)
	}
	quick, _ := Preset("fig6-quick")
	var names []string
	for _, c := range grid.Runs {
		names = append(names, c.Model)
		if c.Iters != QuickIters || c.EvalEvery != 300 || !reflect.DeepEqual(c.Milestones, []int{750, 1125}) {
			t.Errorf("%s: %d iterations, eval every %d, milestones %v", c.Model, c.Iters, c.EvalEvery, c.Milestones)
		}
		if c.WarmupEnabled() != (c.Model == "resnet110") {
			t.Errorf("%s: warm-up %v", c.Model, c.WarmupEnabled())
		}
		for _, q := range quick.Runs {
			if q.Model == c.Model && !reflect.DeepEqual(q, c) {
				t.Errorf("%s differs between fig6-quick and fig6-grid-quick", c.Model)
			}
		}
	}
	if want := "plain20 plain32 plain44 plain56 resnet20 resnet32 resnet44 resnet56 resnet110"; strings.Join(names, " ") != want {
		t.Errorf("models %v, want %s", names, want)
	}
}
