package experiment

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorgonia-zoo/resnet/train"
)

func TestNewSpread(t *testing.T) {
	s := NewSpread([]float64{0.5, 0.7, 0.6})
	if math.Abs(s.Mean-0.6) > 1e-12 || math.Abs(s.SD-0.1) > 1e-12 || s.Min != 0.5 || s.Max != 0.7 || math.Abs(s.Range()-0.2) > 1e-12 {
		t.Errorf("got %+v", s)
	}
	if one := NewSpread([]float64{0.3}); one.SD != 0 || one.Range() != 0 || one.Mean != 0.3 {
		t.Errorf("one seed: %+v", one)
	}
}

// fakeSweep writes a finished sweep's summary.json and metrics.jsonl: each
// model's error falls linearly from 0.9 to its final value, logged every 10
// iterations with a loss of 2.5 times the error and evaluated every 20.
func fakeSweep(t *testing.T, dir string, iters int, final map[string]float64) {
	t.Helper()
	var rs []train.Result
	for _, m := range []string{"plain20", "resnet20"} {
		e := final[m]
		rs = append(rs, train.Result{Model: m, Iters: iters, FinalTrainErr: e, FinalTestErr: e + 0.01})
		var lines []string
		for it := 10; it <= iters; it += 10 {
			v := 0.9 + (e-0.9)*float64(it)/float64(iters)
			loss := 2.5 * v
			p := train.Point{Iter: it, TrainErr: &v, TrainLoss: &loss}
			if it%20 == 0 {
				w := v + 0.01
				p.TestErr = &w
			}
			b, _ := json.Marshal(p)
			lines = append(lines, string(b))
		}
		if err := os.MkdirAll(filepath.Join(dir, m), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, m, train.MetricsFile), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := json.Marshal(rs)
	if err := os.WriteFile(filepath.Join(dir, SummaryJSONFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCompareSweepsSeeds(t *testing.T) {
	root := t.TempDir()
	var ours, theirs []string
	for i, e := range []float64{0.50, 0.54, 0.52} {
		d := filepath.Join(root, "ours", "seed"+string(rune('1'+i)))
		fakeSweep(t, d, 100, map[string]float64{"plain20": e, "resnet20": e - 0.1})
		ours = append(ours, d)
		d = filepath.Join(root, "theirs", "seed"+string(rune('1'+i)))
		// resnet20 agrees within the spread; plain20 is 20 points off.
		fakeSweep(t, d, 100, map[string]float64{"plain20": e + 0.2, "resnet20": e - 0.09})
		theirs = append(theirs, d)
	}
	out := filepath.Join(root, "cmp")
	cs, err := CompareSweeps(out, ours, theirs, [2]string{"ours", "PyTorch"})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 2 || cs[0].Model != "plain20" || cs[1].Model != "resnet20" {
		t.Fatalf("got %+v", cs)
	}
	if math.Abs(cs[0].OursTrain.Mean-0.52) > 1e-12 || math.Abs(cs[0].TheirsTrain.Mean-0.72) > 1e-12 || cs[0].OursTrain.Seeds != 3 {
		t.Errorf("plain20: %+v", cs[0])
	}
	if cs[0].Agrees() || !cs[1].Agrees() {
		t.Errorf("agreement: plain20 %v (want false), resnet20 %v (want true)", cs[0].Agrees(), cs[1].Agrees())
	}
	// ours plain20 falls below 80% at iteration 30 in every seed; its first
	// window's error is 0.9+(final-0.9)/10, its first evaluation's at 20
	// is 0.01 above 0.9+(final-0.9)/5.
	if e := cs[0].OursEarly; e.ItersBelow.Mean != 30 || e.ItersBelow.Range() != 0 || e.NeverBelow != 0 || e.FirstEvalIter != 20 ||
		math.Abs(e.FirstLoss.Mean-2.5*0.862) > 1e-9 || math.Abs(e.FirstEvalErr.Mean-0.834) > 1e-9 {
		t.Errorf("plain20 early: %+v", e)
	}
	md, err := os.ReadFile(filepath.Join(out, CompareMDFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| plain20 | 100 | 52.00 ± 2.00 [50.00, 54.00] | 72.00 ± 2.00 [70.00, 74.00] |", "| no |", "| yes |", "| resnet20 | PyTorch | ../theirs/seed3 | 43.00 | 44.00 |",
		"| plain20 | ours | 2.16 [2.15, 2.16] | 30 [30, 30] | 83.40 [83.00, 83.80] at 20 |"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("comparison.md lacks %q:\n%s", want, md)
		}
	}
	for _, f := range []string{CompareFigFile, CompareJSONFile} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s missing or empty: %v", f, err)
		}
	}

	// A run that never leaves chance is counted, not averaged in.
	stuck := filepath.Join(root, "stuck")
	fakeSweep(t, stuck, 100, map[string]float64{"plain20": 0.9, "resnet20": 0.9})
	cs, err = CompareSweeps(filepath.Join(root, "cmp-stuck"), []string{stuck}, append(theirs[:1], stuck), [2]string{"stuck", "mixed"})
	if err != nil {
		t.Fatal(err)
	}
	if e := cs[0].OursEarly; e.NeverBelow != 1 || e.ItersBelow.Seeds != 0 {
		t.Errorf("stuck early: %+v", e)
	}
	if e := cs[0].TheirsEarly; e.NeverBelow != 1 || e.ItersBelow.Seeds != 1 {
		t.Errorf("mixed early: %+v", e)
	}
	md, err = os.ReadFile(filepath.Join(root, "cmp-stuck", CompareMDFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| plain20 | stuck | 2.25 | never |", " (never in 1 seed(s)) |"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("comparison.md lacks %q:\n%s", want, md)
		}
	}

	// Sweeps that ran a model for different lengths cannot be pooled.
	odd := filepath.Join(root, "odd")
	fakeSweep(t, odd, 50, map[string]float64{"plain20": 0.5, "resnet20": 0.4})
	if _, err := CompareSweeps(out, append(ours, odd), theirs, [2]string{"ours", "PyTorch"}); err == nil || !strings.Contains(err.Error(), "50 iterations") {
		t.Errorf("mixed lengths: got %v", err)
	}
	if _, err := CompareSweeps(out, ours, []string{filepath.Join(root, "none")}, [2]string{"ours", "PyTorch"}); err == nil || !strings.Contains(err.Error(), "not a finished sweep") {
		t.Errorf("missing sweep: got %v", err)
	}
}
