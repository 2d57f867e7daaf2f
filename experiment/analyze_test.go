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

// TestAnalyzeMatchesOp: for a residual block's bn2, whose op also adds the
// shortcut and applies the ReLU, the response Analyze reconstructs from the
// op's input, running statistics and affine parameters is what the op
// computes in evaluation mode (relu(response + shortcut) is the op's output,
// element by element), and Analyze's std is that of the response over the
// evaluation set; on a briefly trained net, so that running statistics and
// affine parameters are not their defaults.
func TestAnalyzeMatchesOp(t *testing.T) {
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
	// The op's input, shortcut and output, read from an inference graph.
	const batch = 16
	g := G.NewGraph()
	xn, x := layers.Input(g, "input", batch, 3, 32, 32)
	if _, err := m.Build(g, xn); err != nil {
		t.Fatal(err)
	}
	var in, shortcut, out G.Value
	for _, n := range g.AllNodes() {
		if n.Op() == nil || !strings.HasPrefix(n.Op().String(), "BatchNorm") {
			continue
		}
		var inputs G.Nodes
		for ch := g.From(n.ID()); ch.Next(); {
			inputs = append(inputs, ch.Node().(*G.Node))
		}
		if inputs[1].Name() == target+".weight" {
			if len(inputs) != 4 {
				t.Fatalf("%s: %d inputs, want x, gamma, beta and the shortcut", target, len(inputs))
			}
			G.Read(inputs[0], &in)
			G.Read(inputs[3], &shortcut)
			G.Read(n, &out)
		}
	}
	param := func(suffix string) []float32 {
		e, ok := m.State().Get(target + suffix)
		if !ok {
			t.Fatalf("no %s%s", target, suffix)
		}
		return e.Value.Float32s()
	}
	gamma, beta, mean, vari := param(".weight"), param(".bias"), param(".running_mean"), param(".running_var")
	vm := layers.NewMachine(g)
	defer layers.CloseMachine(vm)
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
		xv, rv, yv := in.Data().([]float32), shortcut.Data().([]float32), out.Data().([]float32)
		c := len(gamma)
		hw := len(xv) / batch / c
		for i := range xv[:size*c*hw] {
			ch := i / hw % c
			scale := float64(gamma[ch]) / math.Sqrt(float64(vari[ch])+layers.BNEpsilon)
			resp := float64(xv[i])*scale + float64(beta[ch]) - float64(mean[ch])*scale
			if want := math.Max(resp+float64(rv[i]), 0); math.Abs(float64(yv[i])-want) > 1e-4*(1+math.Abs(want)) {
				t.Fatalf("%s element %d: the op outputs %v, relu(response + shortcut) is %v", target, i, yv[i], want)
			}
			s += resp
			s2 += resp * resp
			n++
		}
	}
	mean0 := s / n
	want := math.Sqrt(s2/n - mean0*mean0)
	if math.Abs(got-want) > 1e-4*want {
		t.Fatalf("%s: Analyze says std %v, the response has %v", target, got, want)
	}
	t.Logf("%s std %v (response %v)", target, got, want)
}
