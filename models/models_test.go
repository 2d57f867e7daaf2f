package models

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gorgonia-zoo/resnet/internal/leaktest"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func TestParameterCounts(t *testing.T) {
	want := map[string]int{
		"resnet20": 269722, "resnet32": 464154, "resnet44": 658586, "resnet56": 853018,
		"resnet110": 1727962, "resnet1202": 19421274,
		"resnet18": 11689512, "resnet34": 21797672, "resnet50": 25557032,
		"resnet101": 44549160, "resnet152": 60192808,
	}
	for _, d := range []string{"20", "32", "44", "56", "110"} {
		want["plain"+d] = want["resnet"+d]
	}
	if testing.Short() {
		delete(want, "resnet1202")
		delete(want, "resnet152")
		delete(want, "resnet101")
	}
	for name, params := range want {
		m, err := New(name, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := m.NumParams(); got != params {
			t.Errorf("%s: %d parameters, want %d", name, got, params)
		}
	}
}

func TestMACs(t *testing.T) {
	for name, macs := range map[string]int64{
		"resnet20": 40551040, "resnet56": 125485696, "resnet110": 252887680,
		"resnet18": 1814073344, "resnet50": 4089184256,
	} {
		m, err := New(name, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := m.MACs(); got != macs {
			t.Errorf("%s: %d MACs per image, want %d", name, got, macs)
		}
	}
}

func TestTorchvisionNames(t *testing.T) {
	m, err := New("resnet50", Options{})
	if err != nil {
		t.Fatal(err)
	}
	names := m.State().Names()
	for _, want := range []string{"conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
		"bn1.num_batches_tracked", "layer1.0.conv1.weight", "layer2.0.downsample.0.weight",
		"layer2.0.downsample.1.running_var", "layer4.2.bn3.weight", "fc.weight", "fc.bias"} {
		if _, ok := m.State().Get(want); !ok {
			t.Errorf("resnet50 has no %q", want)
		}
	}
	// torchvision's resnet50 state_dict has 320 entries.
	if len(names) != 320 {
		t.Errorf("resnet50 has %d state entries, torchvision's has 320", len(names))
	}
	c, err := New("resnet20", Options{})
	if err != nil {
		t.Fatal(err)
	}
	fc, _ := c.State().Get("fc.weight")
	if !fc.Value.Shape().Eq(tensor.Shape{10, 64}) {
		t.Errorf("fc.weight shape %v, want (10, 64) as PyTorch stores it", fc.Value.Shape())
	}
	if _, ok := c.State().Get("layer3.2.bn2.running_mean"); !ok {
		t.Error("resnet20 has no layer3.2.bn2.running_mean")
	}
}

func forward(t *testing.T, m *Model, shape ...int) tensor.Shape {
	t.Helper()
	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float32, 4, G.WithShape(shape...), G.WithName("x"), G.WithInit(G.GlorotN(1)))
	net, err := m.Build(g, x)
	if err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatalf("%s: %v", m.Name(), err)
	}
	return net.Logits.Value().Shape()
}

func TestForwardShapes(t *testing.T) {
	for _, name := range Names() {
		if testing.Short() && (name == "resnet1202" || name == "resnet152" || name == "resnet101") {
			continue
		}
		m, err := New(name, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if m.CIFAR() {
			if got := forward(t, m, 2, 3, 32, 32); !got.Eq(tensor.Shape{2, 10}) {
				t.Errorf("%s: (2,3,32,32) -> %v, want (2,10)", name, got)
			}
			continue
		}
		if got := forward(t, m, 2, 3, 64, 64); !got.Eq(tensor.Shape{2, 1000}) {
			t.Errorf("%s: (2,3,64,64) -> %v, want (2,1000)", name, got)
		}
		if name == "resnet18" || name == "resnet50" || !testing.Short() {
			if got := forward(t, m, 2, 3, 224, 224); !got.Eq(tensor.Shape{2, 1000}) {
				t.Errorf("%s: (2,3,224,224) -> %v, want (2,1000)", name, got)
			}
		}
	}
}

func TestUnknownName(t *testing.T) {
	_, err := New("resnet21", Options{})
	if err == nil || !strings.Contains(err.Error(), `unknown model "resnet21"`) || !strings.Contains(err.Error(), "plain20, plain32") || !strings.Contains(err.Error(), "resnet1202") {
		t.Fatalf("error %v should name the bad model and list the valid ones", err)
	}
}

// TestCIFARNames: the CIFAR list is the CIFAR half of Names, in its order
// (the registry's flag, checked against a built model at each end).
func TestCIFARNames(t *testing.T) {
	got := strings.Join(CIFARNames(), " ")
	want := "plain20 plain32 plain44 plain56 plain110 resnet20 resnet32 resnet44 resnet56 resnet110 resnet1202"
	if got != want {
		t.Fatalf("CIFARNames() = %s, want %s", got, want)
	}
	for name, cifar := range map[string]bool{"plain20": true, "resnet18": false} {
		m, err := New(name, Options{})
		if err != nil || m.CIFAR() != cifar {
			t.Errorf("%s: CIFAR() = %v (%v), want %v", name, m != nil && m.CIFAR(), err, cifar)
		}
	}
}

func TestSummaryAndDot(t *testing.T) {
	m, err := New("resnet56", Options{})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := m.Summary(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(b.String(), "params: 853018 macs: 125485696\n") {
		t.Errorf("summary ends %q", b.String()[max(0, b.Len()-80):])
	}
	if !strings.Contains(b.String(), "resnet56: 56 layers with weights") {
		t.Errorf("summary does not count 56 weight layers:\n%s", b.String()[max(0, b.Len()-200):])
	}
	d, err := m.Dot()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(d, []byte("digraph")) || !bytes.Contains(d, []byte("layer3.8.conv2.weight")) {
		t.Errorf("DOT output lacks the graph or its parameter names: %.100s", d)
	}
}

// TestInferenceCollected: an Inference dropped without Close is freed. Its
// graph once held a pointer back into it, a cycle through the tape machine,
// whose finalizer kept it (54 MB per ResNet-20 inference graph) forever.
func TestInferenceCollected(t *testing.T) {
	leaktest.AssertCollected(t, "an Inference", func() (*Inference, error) {
		m, err := New("resnet20", Options{})
		if err != nil {
			return nil, err
		}
		return NewInference(m, 2)
	}, func(inf *Inference) error {
		_, err := inf.Run()
		return err
	})
}
