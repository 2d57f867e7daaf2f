package weights

import (
	"errors"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gorgonia-zoo/resnet/layers"
	"github.com/gorgonia-zoo/resnet/models"
	"github.com/gorgonia-zoo/resnet/safetensors"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// huge are the models whose round trip is left out of short runs.
var huge = map[string]bool{"resnet1202": true, "resnet152": true, "resnet101": true}

// scramble gives every tensor of st random values, BN statistics included
// (positive variances), and num_batches_tracked a distinct count, so a
// round trip cannot pass by accident on initial values.
func scramble(st *layers.State, seed int64) {
	rng := rand.New(rand.NewSource(seed))
	for i, e := range st.Entries() {
		positive := strings.HasSuffix(e.Name, ".running_var")
		switch e.Value.Dtype() {
		case tensor.Float32:
			for j, d := 0, e.Value.Float32s(); j < len(d); j++ {
				d[j] = float32(rng.NormFloat64())
				if positive {
					d[j] = float32(rng.Float64() + 0.1)
				}
			}
		case tensor.Float64:
			for j, d := 0, e.Value.Float64s(); j < len(d); j++ {
				d[j] = rng.NormFloat64()
				if positive {
					d[j] = rng.Float64() + 0.1
				}
			}
		case tensor.Int64:
			e.Value.Int64s()[0] = int64(1000*seed + int64(i))
		}
	}
}

// bitsEqual compares two States bit for bit and reports the first
// differences.
func bitsEqual(t *testing.T, what string, want, got *layers.State) {
	t.Helper()
	if !slices.Equal(want.Names(), got.Names()) {
		t.Fatalf("%s: names differ", what)
	}
	bad := 0
	for _, a := range want.Entries() {
		b, _ := got.Get(a.Name)
		same := a.Value.Dtype() == b.Value.Dtype() && slices.Equal([]int(a.Value.Shape()), []int(b.Value.Shape()))
		if same {
			switch a.Value.Dtype() {
			case tensor.Float32:
				same = slices.EqualFunc(a.Value.Float32s(), b.Value.Float32s(), func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) })
			case tensor.Float64:
				same = slices.EqualFunc(a.Value.Float64s(), b.Value.Float64s(), func(x, y float64) bool { return math.Float64bits(x) == math.Float64bits(y) })
			case tensor.Int64:
				same = slices.Equal(a.Value.Int64s(), b.Value.Int64s())
			}
		}
		if !same {
			if bad++; bad <= 5 {
				t.Errorf("%s: %s differs after the round trip", what, a.Name)
			}
		}
	}
}

func TestRoundTripEveryModel(t *testing.T) {
	dir := t.TempDir()
	for _, name := range models.Names() {
		if testing.Short() && huge[name] {
			continue
		}
		t.Run(name, func(t *testing.T) {
			src, err := models.New(name, models.Options{Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			scramble(src.State(), 7)
			path := filepath.Join(dir, name+".safetensors")
			if err := Save(path, src, map[string]string{KeyNormalizeMean: "0.5,0.5,0.5", KeyModel: "overridden"}); err != nil {
				t.Fatal(err)
			}
			dst, err := models.New(name, models.Options{Seed: 2})
			if err != nil {
				t.Fatal(err)
			}
			r, err := Load(path, dst, LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Loaded) != len(src.State().Names()) || len(r.Mismatches) != 0 || len(r.Skipped) != 0 {
				t.Errorf("report: %v", r)
			}
			if r.Metadata[KeyModel] != name || r.Metadata[KeyNormalizeMean] != "0.5,0.5,0.5" || r.Metadata[KeyDtype] != "float32" {
				t.Errorf("metadata %v", r.Metadata)
			}
			bitsEqual(t, name, src.State(), dst.State())
			os.Remove(path) // the big ones take disk space
		})
	}
}

// saveFile writes f to a temporary file and returns its path.
func saveFile(t *testing.T, f *safetensors.File) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "w.safetensors")
	if err := safetensors.WriteFile(path, f); err != nil {
		t.Fatal(err)
	}
	return path
}

func newModel(t *testing.T, name string, opts models.Options) *models.Model {
	t.Helper()
	m, err := models.New(name, opts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestDtypeConversion(t *testing.T) {
	src := newModel(t, "resnet20", models.Options{Dtype: tensor.Float64, Seed: 3})
	scramble(src.State(), 3)
	path := filepath.Join(t.TempDir(), "f64.safetensors")
	if err := Save(path, src, nil); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if w, _ := f.Get("conv1.weight"); w.DType != safetensors.F64 {
		t.Errorf("float64 model saved as %s", w.DType)
	}
	if n, _ := f.Get("bn1.num_batches_tracked"); n.DType != safetensors.I64 || len(n.Shape) != 0 {
		t.Errorf("num_batches_tracked saved as %s %v, want I64 []", n.DType, n.Shape)
	}
	// F64 file into a float32 model: rounded.
	m32 := newModel(t, "resnet20", models.Options{})
	if _, err := Load(path, m32, LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	a, _ := src.State().Get("layer2.1.conv2.weight")
	b, _ := m32.State().Get("layer2.1.conv2.weight")
	for i, v := range a.Value.Float64s() {
		if b.Value.Float32s()[i] != float32(v) {
			t.Fatalf("element %d: %v, want %v", i, b.Value.Float32s()[i], float32(v))
		}
	}
	// And back: F32 file into a float64 model is exact.
	path32 := filepath.Join(t.TempDir(), "f32.safetensors")
	if err := Save(path32, m32, nil); err != nil {
		t.Fatal(err)
	}
	m64 := newModel(t, "resnet20", models.Options{Dtype: tensor.Float64})
	if _, err := Load(path32, m64, LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	c, _ := m64.State().Get("layer2.1.conv2.weight")
	for i, v := range b.Value.Float32s() {
		if c.Value.Float64s()[i] != float64(v) {
			t.Fatalf("element %d: %v, want %v", i, c.Value.Float64s()[i], v)
		}
	}
}

// brokenFile is resnet20's file with one tensor missing, one extra, one
// misshapen and two of a wrong dtype.
func brokenFile(t *testing.T, m *models.Model) (*safetensors.File, []string) {
	f, err := Encode(m.State(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []safetensors.Tensor
	for _, tn := range f.Tensors {
		switch tn.Name {
		case "fc.bias":
			continue
		case "layer1.0.conv1.weight":
			tn = safetensors.FromFloat32(tn.Name, []int{16, 16, 3, 1}, make([]float32, 16*16*3))
		case "bn1.num_batches_tracked":
			tn = safetensors.FromFloat32(tn.Name, nil, []float32{3})
		case "layer3.2.bn2.running_mean":
			tn = safetensors.FromInt64(tn.Name, []int{64}, make([]int64, 64))
		}
		out = append(out, tn)
	}
	out = append(out, safetensors.FromFloat32("layer4.0.conv1.weight", []int{2}, []float32{1, 2}))
	f.Tensors = out
	return f, []string{
		"missing fc.bias: want F32 [10]",
		"misshapen layer1.0.conv1.weight: want F32 [16 16 3 3], got F32 [16 16 3 1]",
		"wrong dtype bn1.num_batches_tracked: want I64 [], got F32 []",
		"wrong dtype layer3.2.bn2.running_mean: want F32 [64], got I64 [64]",
		"unexpected layer4.0.conv1.weight: got F32 [2]",
	}
}

func TestStrictMismatchListsEverything(t *testing.T) {
	src := newModel(t, "resnet20", models.Options{Seed: 1})
	f, want := brokenFile(t, src)
	path := saveFile(t, f)
	dst := newModel(t, "resnet20", models.Options{Seed: 2})
	before, _ := Encode(dst.State(), nil)
	_, err := Load(path, dst, LoadOptions{})
	var me *MismatchError
	if !errors.As(err, &me) {
		t.Fatalf("error %v, want a *MismatchError", err)
	}
	msg := err.Error()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error does not say %q:\n%s", w, msg)
		}
	}
	if len(me.Mismatches) != len(want) || !strings.Contains(msg, path) || !strings.Contains(msg, "resnet20") {
		t.Errorf("%d mismatches, want %d:\n%s", len(me.Mismatches), len(want), msg)
	}
	after, _ := Encode(dst.State(), nil)
	for i := range before.Tensors {
		if string(before.Tensors[i].Data) != string(after.Tensors[i].Data) {
			t.Errorf("a failed strict load changed %s", before.Tensors[i].Name)
		}
	}
}

func TestNonStrictLoadsWhatFits(t *testing.T) {
	src := newModel(t, "resnet20", models.Options{Seed: 1})
	scramble(src.State(), 5)
	f, want := brokenFile(t, src)
	dst := newModel(t, "resnet20", models.Options{Seed: 2})
	orig, _ := Encode(dst.State(), nil)
	r, err := Load(saveFile(t, f), dst, LoadOptions{NonStrict: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Mismatches) != len(want) {
		t.Fatalf("report %v", r)
	}
	for i, m := range r.Mismatches {
		if !slices.Contains(want, m.String()) {
			t.Errorf("mismatch %d: %q is not expected", i, m)
		}
	}
	if got := len(r.Loaded); got != len(src.State().Names())-4 {
		t.Errorf("loaded %d tensors, want %d", got, len(src.State().Names())-4)
	}
	// Loaded tensors have the file's values, the others keep the model's.
	bad := map[string]bool{"fc.bias": true, "layer1.0.conv1.weight": true, "bn1.num_batches_tracked": true, "layer3.2.bn2.running_mean": true}
	srcFile, _ := Encode(src.State(), nil)
	now, _ := Encode(dst.State(), nil)
	for i, tn := range now.Tensors {
		want := srcFile.Tensors[i]
		if bad[tn.Name] {
			want = orig.Tensors[i]
		}
		if string(tn.Data) != string(want.Data) {
			t.Errorf("%s has the wrong values", tn.Name)
		}
	}
	// A file that shares nothing with the model fails even when non-strict.
	none := &safetensors.File{Tensors: []safetensors.Tensor{safetensors.FromFloat32("x", []int{1}, []float32{1})}}
	if _, err := Load(saveFile(t, none), dst, LoadOptions{NonStrict: true}); err == nil {
		t.Error("loading an unrelated file did not fail")
	}
}

func TestSkipPrefixesForFineTuning(t *testing.T) {
	src := newModel(t, "resnet20", models.Options{Seed: 1})
	path := filepath.Join(t.TempDir(), "r20.safetensors")
	if err := Save(path, src, nil); err != nil {
		t.Fatal(err)
	}
	// 100 classes: a strict load fails on the classifier only, and says how to skip it.
	dst := newModel(t, "resnet20", models.Options{NumClasses: 100, Seed: 2})
	_, err := Load(path, dst, LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), "misshapen fc.weight: want F32 [100 64], got F32 [10 64]") ||
		!strings.Contains(err.Error(), "misshapen fc.bias: want F32 [100], got F32 [10]") || !strings.Contains(err.Error(), `skip "fc."`) {
		t.Fatalf("error %v", err)
	}
	fcBefore, _ := dst.State().Get("fc.weight")
	fc0 := append([]float32(nil), fcBefore.Value.Float32s()...)
	for _, load := range []func() (*Report, error){
		func() (*Report, error) { return Load(path, dst, LoadOptions{SkipPrefixes: []string{"fc."}}) },
		func() (*Report, error) { return InitFrom(path, dst, LoadOptions{}) },
	} {
		r, err := load()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(r.Skipped, []string{"fc.bias", "fc.weight"}) || len(r.Mismatches) != 0 || len(r.Loaded) != len(src.State().Names())-2 {
			t.Errorf("report %v, skipped %v", r, r.Skipped)
		}
		if !slices.Equal(fcBefore.Value.Float32s(), fc0) {
			t.Error("the skipped classifier changed")
		}
		a, _ := src.State().Get("layer3.2.conv2.weight")
		b, _ := dst.State().Get("layer3.2.conv2.weight")
		if !slices.Equal(a.Value.Float32s(), b.Value.Float32s()) {
			t.Error("the body was not loaded")
		}
	}
	// InitFrom keeps a classifier of the right width.
	same := newModel(t, "resnet20", models.Options{Seed: 3})
	r, err := InitFrom(path, same, LoadOptions{})
	if err != nil || len(r.Skipped) != 0 {
		t.Fatalf("InitFrom with 10 classes: %v %v", r, err)
	}
}

func TestGraphsBuiltBeforeLoadSeeTheWeights(t *testing.T) {
	src := newModel(t, "resnet20", models.Options{Seed: 1})
	dst := newModel(t, "resnet20", models.Options{Seed: 2})
	src.SetTraining(false)
	dst.SetTraining(false)
	x := tensor.New(tensor.WithShape(2, 3, 32, 32), tensor.WithBacking(make([]float32, 2*3*32*32)))
	for i, d := 0, x.Float32s(); i < len(d); i++ {
		d[i] = float32(math.Sin(float64(i)))
	}
	run := func(m *models.Model) func() []float32 {
		g := G.NewGraph()
		in := G.NewTensor(g, tensor.Float32, 4, G.WithShape(2, 3, 32, 32), G.WithName("x"), G.WithValue(x))
		net, err := m.Build(g, in)
		if err != nil {
			t.Fatal(err)
		}
		var out G.Value
		G.Read(net.Logits, &out)
		vm := G.NewTapeMachine(g)
		return func() []float32 {
			if err := vm.RunAll(); err != nil {
				t.Fatal(err)
			}
			vm.Reset()
			return append([]float32(nil), out.Data().([]float32)...)
		}
	}
	want := run(src)()
	runDst := run(dst)
	if slices.Equal(runDst(), want) {
		t.Fatal("two seeds gave the same logits")
	}
	path := filepath.Join(t.TempDir(), "w.safetensors")
	if err := Save(path, src, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path, dst, LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := runDst(); !slices.Equal(got, want) {
		t.Errorf("logits after Load %v, want %v", got[:3], want[:3])
	}
}

func TestLoadModelAndMetadata(t *testing.T) {
	src := newModel(t, "resnet32", models.Options{NumClasses: 7, Seed: 4})
	scramble(src.State(), 4)
	path := filepath.Join(t.TempDir(), "r32.safetensors")
	extra := map[string]string{KeyNormalizeMean: FormatFloats([]float64{0.4914, 0.4822, 0.4465}), "epochs": "3"}
	if err := Save(path, src, extra); err != nil {
		t.Fatal(err)
	}
	md, err := ReadMetadata(path)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{KeyModel: "resnet32", KeyNumClasses: "7", KeyShortcut: "A", KeyFormat: "pt", "epochs": "3", KeyNormalizeMean: "0.4914,0.4822,0.4465"} {
		if md[k] != v {
			t.Errorf("metadata %s = %q, want %q", k, md[k], v)
		}
	}
	if v, err := ParseFloats(md[KeyNormalizeMean]); err != nil || !slices.Equal(v, []float64{0.4914, 0.4822, 0.4465}) {
		t.Errorf("ParseFloats: %v %v", v, err)
	}
	if _, err := ParseFloats("0.1,x"); err == nil {
		t.Error("ParseFloats accepted x")
	}
	m, r, err := LoadModel(path, models.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if m.Name() != "resnet32" || m.Options().NumClasses != 7 || len(r.Loaded) != len(src.State().Names()) {
		t.Errorf("LoadModel built %s with %d classes", m.Name(), m.Options().NumClasses)
	}
	bitsEqual(t, "LoadModel", src.State(), m.State())

	// Errors name the file.
	notST := filepath.Join(t.TempDir(), "not.safetensors")
	os.WriteFile(notST, []byte("hello, this is not a safetensors file"), 0o644)
	for _, p := range []string{notST, filepath.Join(t.TempDir(), "absent.safetensors")} {
		if _, err := ReadMetadata(p); err == nil || !strings.Contains(err.Error(), filepath.Base(p)) {
			t.Errorf("ReadMetadata(%s): %v", p, err)
		}
		if _, err := Load(p, m, LoadOptions{}); err == nil || !strings.Contains(err.Error(), filepath.Base(p)) {
			t.Errorf("Load(%s): %v", p, err)
		}
		if _, _, err := LoadModel(p, models.Options{}); err == nil || !strings.Contains(err.Error(), filepath.Base(p)) {
			t.Errorf("LoadModel(%s): %v", p, err)
		}
	}
	// DecodeModel: the same from memory, errors naming the source given.
	f, err := safetensors.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if m, _, err := DecodeModel("memory", f, models.Options{}); err != nil || m.Name() != "resnet32" {
		t.Errorf("DecodeModel: %v", err)
	} else {
		bitsEqual(t, "DecodeModel", src.State(), m.State())
	}
	f.Tensors = f.Tensors[1:]
	if _, _, err := DecodeModel("memory", f, models.Options{}); err == nil || !strings.Contains(err.Error(), "memory does not fit model resnet32") {
		t.Errorf("DecodeModel of a file short of a tensor: %v", err)
	}
	// No metadata: empty map; LoadModel needs the model name.
	bare := saveFile(t, &safetensors.File{Tensors: []safetensors.Tensor{safetensors.FromFloat32("x", []int{1}, []float32{1})}})
	if md, err := ReadMetadata(bare); err != nil || md == nil || len(md) != 0 {
		t.Errorf("ReadMetadata without metadata: %v %v", md, err)
	}
	if _, _, err := LoadModel(bare, models.Options{}); err == nil || !strings.Contains(err.Error(), `"model"`) {
		t.Errorf("LoadModel without metadata: %v", err)
	}
}

// TestRefusesNonFinite: a NaN or infinite float anywhere in what a load
// copies fails every load path with an error naming the file, the tensor
// and the element, and leaves the model as it was; so does an F64 value
// beyond float32's range. Such weights used to load and give NaN losses
// and probabilities.
func TestRefusesNonFinite(t *testing.T) {
	src := newModel(t, "resnet20", models.Options{Seed: 1})
	scramble(src.State(), 5)
	dir := t.TempDir()
	for _, c := range []struct {
		name, tensor string
		element      int
		value        float64
		f64          bool
		want         string
	}{
		{"nan.safetensors", "layer1.0.conv1.weight", 17, math.NaN(), false, "tensor layer1.0.conv1.weight: element 17 is NaN"},
		{"inf.safetensors", "bn1.running_var", 15, math.Inf(1), false, "tensor bn1.running_var: element 15 is +Inf"},
		{"neginf64.safetensors", "fc.bias", 0, math.Inf(-1), true, "tensor fc.bias: element 0 is -Inf"},
		{"big64.safetensors", "fc.weight", 3, 1e300, true, "tensor fc.weight: element 3, 1e+300, is beyond float32's range"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := Encode(src.State(), map[string]string{KeyModel: "resnet20"})
			if err != nil {
				t.Fatal(err)
			}
			for i, tt := range f.Tensors {
				if tt.Name != c.tensor {
					continue
				}
				v, _ := tt.Float32s()
				if c.f64 {
					v64 := make([]float64, len(v))
					for j, x := range v {
						v64[j] = float64(x)
					}
					v64[c.element] = c.value
					f.Tensors[i] = safetensors.FromFloat64(tt.Name, tt.Shape, v64)
				} else {
					v[c.element] = float32(c.value)
					f.Tensors[i] = safetensors.FromFloat32(tt.Name, tt.Shape, v)
				}
			}
			path := filepath.Join(dir, c.name)
			if err := safetensors.WriteFile(path, f); err != nil {
				t.Fatal(err)
			}
			dst := newModel(t, "resnet20", models.Options{Seed: 2})
			before := newModel(t, "resnet20", models.Options{Seed: 2})
			check := func(what string, err error) {
				t.Helper()
				if err == nil || !strings.Contains(err.Error(), path) || !strings.HasSuffix(err.Error(), c.want) {
					t.Errorf("%s: %v, want an error naming %s and ending %q", what, err, path, c.want)
				}
			}
			_, err = Load(path, dst, LoadOptions{})
			check("Load", err)
			_, err = Load(path, dst, LoadOptions{NonStrict: true})
			check("Load, non-strict", err)
			_, err = InitFrom(path, dst, LoadOptions{})
			check("InitFrom", err)
			_, _, err = LoadModel(path, models.Options{})
			check("LoadModel", err)
			if _, err := LoadState(dst.State(), f, LoadOptions{}); err == nil || err.Error() != c.want {
				t.Errorf("LoadState: %v, want %q", err, c.want)
			}
			bitsEqual(t, "after the refused loads", before.State(), dst.State())
			// What a load skips is not checked.
			if c.tensor == "fc.bias" {
				if _, err := Load(path, dst, LoadOptions{SkipPrefixes: []string{"fc."}}); err != nil {
					t.Errorf("skipping the bad tensor: %v", err)
				}
			}
		})
	}
}
