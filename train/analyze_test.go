package train

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorgonia-zoo/resnet/datasets/cifar10"
	G "gorgonia.org/gorgonia"
)

// TestAnalyzeMatchesUnfusedBN: for a batch norm the op does not fuse with a
// ReLU (a residual block's bn2), the response Analyze reconstructs equals
// the op's own output in evaluation mode.
func TestAnalyzeMatchesUnfusedBN(t *testing.T) {
	ds := synthetic(64, 32)
	cfg := tiny(4)
	dir := filepath.Join(t.TempDir(), "run")
	tr, err := New(cfg, ds, dir, Output{})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if _, err := tr.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	a, err := tr.Analyze()
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
	g := G.NewGraph()
	xn, x := input(g, "input", tr.inf.Batch(), 3, 32, 32)
	if _, err := tr.model.Build(g, xn); err != nil {
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
	tr.model.SetTraining(false)
	defer tr.model.SetTraining(true)
	it, err := cifar10.NewEvalIterator(tr.eval, tr.stats, cifar10.EvalOptions{BatchSize: tr.inf.Batch()})
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
		v, _ := floats(out)
		for _, y := range v[:len(v)/tr.inf.Batch()*size] {
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
