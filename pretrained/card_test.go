package pretrained_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"text/template"

	"github.com/gorgonia-zoo/resnet/models"
	"github.com/gorgonia-zoo/resnet/pretrained"
	"github.com/gorgonia-zoo/resnet/train"
)

var update = flag.Bool("update", false, "write the model cards (results/*/MODEL_CARD.md) from their templates and the shipped weights")

// cardData is what a model card template sees: the shipped entry, its
// run's config.json and numbers from its metrics.jsonl, up to the
// shipped iteration.
type cardData struct {
	pretrained.Entry
	runNumbers
	Info   train.RunInfo
	Params int
	Epochs float64
	// Twin has the numbers of the PyTorch twin's run of the same recipe
	// (results/DIR/twin), when there is one, and Beside the test errors
	// of both runs every besideEvery iterations.
	Twin   *runNumbers
	Beside []besidePoint
}

// runNumbers is what a card reports of one run's metrics.jsonl, up to an
// iteration.
type runNumbers struct {
	Train     train.Point // the last point with a training error
	TrainFrom int         // the first iteration Train's means cover
	LastEval  train.Point // the last point with a test error
	BestEval  train.Point // the point with the lowest test error
	Hours     float64     // training time up to the last point
	ImgPerS   float64     // median training throughput
	evals     map[int]train.Point
}

// besidePoint is one row of a card's table of the run against its twin.
type besidePoint struct {
	Iter       int
	Ours, Twin train.Point
}

const besideEvery = 8000

// TestModelCards checks that each model card, results/DIR/MODEL_CARD.md,
// is its template MODEL_CARD.md.tmpl filled with the numbers of the
// weights shipped from results/DIR/run and of that run, so that they
// cannot drift; with -update it writes them. A template whose weights are
// not shipped yet has no card. Every shipped file has a card.
func TestModelCards(t *testing.T) {
	root := ".."
	templates, err := filepath.Glob(filepath.Join(root, "results", "*", "MODEL_CARD.md.tmpl"))
	if err != nil || len(templates) == 0 {
		t.Fatalf("no model card templates under %s/results (%v)", root, err)
	}
	bySource := map[string]pretrained.Entry{}
	for _, name := range pretrained.Models() {
		e, err := pretrained.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		bySource[path.Dir(e.Source)] = e
	}
	carded := map[string]bool{}
	for _, tmpl := range templates {
		dir, _ := filepath.Rel(root, filepath.Dir(tmpl))
		card := filepath.Join(filepath.Dir(tmpl), "MODEL_CARD.md")
		e, ok := bySource[filepath.ToSlash(dir)]
		if !ok {
			t.Logf("%s: no weights shipped from %s/run yet; its MODEL_CARD.md comes with them", tmpl, dir)
			if _, err := os.Stat(card); err == nil {
				t.Errorf("%s exists, but no weights are shipped from %s/run", card, dir)
			}
			continue
		}
		carded[e.Model] = true
		want := renderCard(t, root, tmpl, e)
		if *update {
			if err := os.WriteFile(card, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(card)
		if err != nil {
			t.Errorf("%v: write it with go test ./pretrained -run TestModelCards -update", err)
		} else if !bytes.Equal(got, want) {
			t.Errorf("%s is not its template filled with the shipped %s weights' numbers: %s; write it with go test ./pretrained -run TestModelCards -update", card, e.Model, firstDiff(got, want))
		}
	}
	for _, name := range pretrained.Models() {
		if !carded[name] {
			t.Errorf("the shipped %s weights have no model card template beside their run", name)
		}
	}
}

// renderCard fills the template tmpl with e and its run's numbers.
func renderCard(t *testing.T, root, tmpl string, e pretrained.Entry) []byte {
	t.Helper()
	run := filepath.Join(root, filepath.FromSlash(e.Source))
	d := cardData{Entry: e}
	var err error
	if d.Info, err = train.ReadRunInfo(run); err != nil {
		t.Fatal(err)
	}
	d.runNumbers = readNumbers(t, run, e.Iterations)
	twin := filepath.Join(filepath.Dir(run), "twin")
	if _, err := os.Stat(filepath.Join(twin, train.MetricsFile)); err == nil {
		n := readNumbers(t, twin, e.Iterations)
		d.Twin = &n
		for it := besideEvery; it <= e.Iterations; it += besideEvery {
			ours, ok1 := d.evals[it]
			theirs, ok2 := n.evals[it]
			if ok1 && ok2 {
				d.Beside = append(d.Beside, besidePoint{Iter: it, Ours: ours, Twin: theirs})
			}
		}
	}
	d.Epochs = float64(e.Iterations) * float64(d.Info.Config.BatchSize) / float64(d.Info.TrainN)
	m, err := models.New(e.Model, models.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d.Params = m.NumParams()

	funcs := template.FuncMap{
		"num":  func(n int) string { return thousands(n) },
		"nums": func(v []int) string { return strings.Join(mapInts(v, thousands), " and ") },
		"pct":  func(x any) string { return fmt.Sprintf("%.2f%%", 100*deref(x)) },
		"f0":   func(x float64) string { return fmt.Sprintf("%.0f", x) },
		"f1":   func(x float64) string { return fmt.Sprintf("%.1f", x) },
		"f4":   func(x any) string { return fmt.Sprintf("%.4f", deref(x)) },
	}
	tp, err := template.New(filepath.Base(tmpl)).Funcs(funcs).Option("missingkey=error").ParseFiles(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := tp.Execute(&b, d); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// readNumbers summarizes the metrics.jsonl of the run in dir up to
// iteration last.
func readNumbers(t *testing.T, dir string, last int) runNumbers {
	t.Helper()
	points, err := train.ReadMetrics(filepath.Join(dir, train.MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	d := runNumbers{evals: map[int]train.Point{}}
	var rates []float64
	for i, p := range points {
		if p.Iter > last {
			break
		}
		if p.TrainErr != nil {
			d.Train, d.TrainFrom = p, 1
			if i > 0 {
				d.TrainFrom = points[i-1].Iter + 1
			}
		}
		if p.TestErr != nil {
			d.LastEval = p
			d.evals[p.Iter] = p
			if d.BestEval.TestErr == nil || *p.TestErr < *d.BestEval.TestErr {
				d.BestEval = p
			}
		}
		d.Hours = p.ElapsedS / 3600
		rates = append(rates, p.ImgPerS)
	}
	if d.Train.TrainErr == nil || d.LastEval.TestErr == nil {
		t.Fatalf("%s: no training or test error logged up to iteration %d", dir, last)
	}
	slices.Sort(rates)
	d.ImgPerS = rates[len(rates)/2]
	return d
}

// firstDiff describes the first line where got and want differ.
func firstDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := range max(len(g), len(w)) {
		var a, b string
		if i < len(g) {
			a = g[i]
		}
		if i < len(w) {
			b = w[i]
		}
		if a != b {
			return fmt.Sprintf("line %d is %q, want %q", i+1, a, b)
		}
	}
	return "they differ"
}

// deref reads a float64 or a *float64 (a Point's optional fields).
func deref(x any) float64 {
	if p, ok := x.(*float64); ok {
		return *p
	}
	return x.(float64)
}

// thousands formats n with commas: 64,000.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func mapInts(v []int, f func(int) string) []string {
	out := make([]string, len(v))
	for i, x := range v {
		out[i] = f(x)
	}
	return out
}
