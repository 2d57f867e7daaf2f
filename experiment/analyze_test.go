package experiment

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorgonia-zoo/resnet/datasets/cifar10"
	"github.com/gorgonia-zoo/resnet/internal/synthetic"
	"github.com/gorgonia-zoo/resnet/layers"
	"github.com/gorgonia-zoo/resnet/train"
	G "gorgonia.org/gorgonia"
)

// TestAnalyzeMatchesUnfusedBN: for a batch norm the op does not fuse with a
// ReLU (a residual block's bn2), the response Analyze reconstructs equals
// the op's own output in evaluation mode, on a briefly trained net (so
// that running statistics and affine parameters are not their defaults).
func TestAnalyzeMatchesUnfusedBN(t *testing.T) {
	ds := synthetic.CIFAR10(64, 32)
	cfg := tiny("resnet20")
	cfg.Analyze = true
	dir := filepath.Join(t.TempDir(), "run")
	tr, err := train.New(cfg, ds, dir, train.Output{})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	tr.Hooks = Hooks()
	if _, err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{CurvesFile, AnalysisFile, ResponsesFile} {
		if !exists(filepath.Join(dir, f)) {
			t.Errorf("the hooks wrote no %s", f)
		}
	}
	m := tr.Model()
	set, name, stats := tr.EvalSet()
	a, err := Analyze(m, set, name, stats, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Layers) != 19 {
		t.Fatalf("%d 3x3 layers in resnet20, want 19", len(a.Layers))
	}
	const target = "layer2.1.bn2"
	var got float64
	for _, l := range a.Layers {
		if l.Name == target {
			got = l.Std
		}
	}
	// The op's own output, read from an inference graph.
	const batch = 16
	g := G.NewGraph()
	xn, x := layers.Input(g, "input", batch, 3, 32, 32)
	if _, err := m.Build(g, xn); err != nil {
		t.Fatal(err)
	}
	var out G.Value
	for _, n := range g.AllNodes() {
		if n.Op() == nil || !strings.HasPrefix(n.Op().String(), "BatchNorm") {
			continue
		}
		ch := g.From(n.ID())
		for ch.Next() {
			if ch.Node().(*G.Node).Name() == target+".weight" {
				G.Read(n, &out)
			}
		}
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	m.SetTraining(false)
	defer m.SetTraining(true)
	it, err := cifar10.NewEvalIterator(set, stats, cifar10.EvalOptions{BatchSize: batch})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var s, s2, n float64
	for b, ok := it.Next(); ok; b, ok = it.Next() {
		copy(x, b.Images[:cap(b.Images)])
		size := b.Size
		b.Release()
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		vm.Reset()
		v := out.Data().([]float32)
		for _, y := range v[:len(v)/batch*size] {
			s += float64(y)
			s2 += float64(y) * float64(y)
			n++
		}
	}
	mean := s / n
	want := math.Sqrt(s2/n - mean*mean)
	if math.Abs(got-want) > 1e-4*want {
		t.Fatalf("%s: Analyze says std %v, the op's output has %v", target, got, want)
	}
	t.Logf("%s std %v (op output %v)", target, got, want)
}
