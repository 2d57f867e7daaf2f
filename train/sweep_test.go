package train

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pkg/errors"
)

// TestSweepInterruptAndResume: an interrupted sweep resumes where it
// stopped and ends with every run finished and the summary files.
func TestSweepInterruptAndResume(t *testing.T) {
	ds := synthetic(64, 32)
	a, b := tiny(4), tiny(4)
	b.Model = "plain20"
	s := &Sweep{Preset: "test", Runs: []Config{a, b}}
	dir := filepath.Join(t.TempDir(), "sweep")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := RunSweep(ctx, s, ds, dir, false, Output{}); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("got %v, want ErrInterrupted", err)
	}
	if _, err := RunSweep(context.Background(), s, ds, dir, false, Output{}); err == nil {
		t.Fatal("a new sweep into an existing directory was not refused")
	}
	rs, err := RunSweep(context.Background(), nil, ds, dir, true, Output{})
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
	pts, err := ReadMetrics(filepath.Join(dir, "resnet20", MetricsFile))
	if err != nil || len(pts) != 4 {
		t.Fatalf("resnet20 metrics: %d points (%v), want 4 without duplicates", len(pts), err)
	}
}

// TestWarmup: with the warm-up on, training starts at WarmupLR and returns
// to LR once the training error falls below WarmupErr.
func TestWarmup(t *testing.T) {
	ds := synthetic(64, 32)
	cfg := tiny(6)
	cfg.Warmup, cfg.WarmupErr, cfg.Milestones = WarmupOn, 0.999, nil
	tr, err := New(cfg, ds, filepath.Join(t.TempDir(), "run"), Output{})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if _, err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	pts := tr.Points()
	if pts[0].LR != cfg.WarmupLR || pts[len(pts)-1].LR != cfg.LR {
		t.Fatalf("LR %v at the start and %v at the end, want %v then %v", pts[0].LR, pts[len(pts)-1].LR, cfg.WarmupLR, cfg.LR)
	}
	cfg.WarmupErr = 1e-9 // never reached
	tr, err = New(cfg, ds, filepath.Join(t.TempDir(), "run2"), Output{})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if _, err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, p := range tr.Points() {
		if p.LR != cfg.WarmupLR {
			t.Fatalf("iteration %d at LR %v during the warm-up", p.Iter, p.LR)
		}
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
