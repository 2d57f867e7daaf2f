package train

import (
	"bytes"
	"context"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/gorgonia-zoo/resnet/internal/leaktest"
	"github.com/gorgonia-zoo/resnet/internal/synthetic"
	"github.com/gorgonia-zoo/resnet/models"
	"github.com/gorgonia-zoo/resnet/safetensors"
	"github.com/pkg/errors"
)

// TestResumeIsBitwiseIdentical: 6 iterations straight and 1 + 1 + 4 with
// interruptions (a cancelled context, as SIGINT gives) and resumes end with
// the same weights, buffers and momentum, bit for bit.
func TestResumeIsBitwiseIdentical(t *testing.T) {
	ds := synthetic.CIFAR10(64, 32)
	cfg := tiny(6)
	cfg.CkptEvery = 0 // checkpoints only at the end and on interruption
	straight := filepath.Join(t.TempDir(), "straight")
	runTiny(t, cfg, ds, straight)

	pieces := filepath.Join(t.TempDir(), "pieces")
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tr, err := New(cfg, ds, pieces, Output{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Run(cancelled); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("got %v, want ErrInterrupted", err)
	}
	tr.Close()
	for i, ctx := range []context.Context{cancelled, context.Background()} {
		tr, err := Resume(pieces, ds, Output{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if tr.Iteration() != i+1 {
			t.Fatalf("resumed at iteration %d, want %d", tr.Iteration(), i+1)
		}
		_, err = tr.Run(ctx)
		tr.Close()
		if i == 0 && !errors.Is(err, ErrInterrupted) || i == 1 && err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}
	a, err := safetensors.ReadFile(filepath.Join(straight, CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	b, err := safetensors.ReadFile(filepath.Join(pieces, CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Tensors) != len(b.Tensors) {
		t.Fatalf("%d tensors vs %d", len(a.Tensors), len(b.Tensors))
	}
	momentum := 0
	for _, ta := range a.Tensors {
		tb, ok := b.Get(ta.Name)
		if !ok || !bytes.Equal(ta.Data, tb.Data) {
			t.Errorf("%s differs between the straight and the resumed run", ta.Name)
		}
		if strings.HasPrefix(ta.Name, MomentumPrefix) {
			momentum++
		}
	}
	if momentum == 0 {
		t.Error("no momentum buffers in the checkpoint")
	}
	if nbt, ok := a.Get("layer3.2.bn2.num_batches_tracked"); !ok || nbt.DType != safetensors.I64 {
		t.Errorf("num_batches_tracked: %v %v", ok, nbt.DType)
	} else if v, _ := nbt.Int64s(); v[0] != 6 {
		t.Errorf("num_batches_tracked = %v, want 6", v)
	}
	if a.Metadata[MetaIteration] != "6" || b.Metadata[MetaIteration] != "6" {
		t.Errorf("iterations %q and %q", a.Metadata[MetaIteration], b.Metadata[MetaIteration])
	}
	pa, _ := ReadMetrics(filepath.Join(straight, MetricsFile))
	pb, _ := ReadMetrics(filepath.Join(pieces, MetricsFile))
	if len(pa) != 6 || len(pb) != 6 || *pa[5].TrainLoss != *pb[5].TrainLoss || *pa[5].TestErr != *pb[5].TestErr {
		t.Errorf("metrics differ: %d and %d points", len(pa), len(pb))
	}
}

// TestNaNStops: a diverging run stops with a clear error at the first
// non-finite loss and keeps the last good checkpoint.
func TestNaNStops(t *testing.T) {
	ds := synthetic.CIFAR10(64, 32)
	cfg := tiny(40)
	cfg.LR, cfg.Milestones, cfg.CkptEvery = 1e30, nil, 1
	dir := filepath.Join(t.TempDir(), "run")
	tr, err := New(cfg, ds, dir, Output{})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	_, err = tr.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "diverged") {
		t.Fatalf("got %v, want a divergence error", err)
	}
	t.Log(err)
	f, err := safetensors.ReadFile(filepath.Join(dir, CheckpointFile))
	if err != nil {
		t.Fatalf("the last good checkpoint is gone: %v", err)
	}
	for _, tt := range f.Tensors {
		if v, err := tt.Float32s(); err == nil {
			for _, x := range v {
				if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
					t.Fatalf("checkpoint holds %v in %s", x, tt.Name)
				}
			}
		}
	}
}

// TestExistingRunRefused: New never writes into an existing run.
func TestExistingRunRefused(t *testing.T) {
	ds := synthetic.CIFAR10(64, 32)
	dir := filepath.Join(t.TempDir(), "run")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ConfigFile), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := New(tiny(2), ds, dir, Output{})
	if err == nil || !strings.Contains(err.Error(), "resume it") {
		t.Fatalf("got %v, want a refusal that suggests resuming", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, ConfigFile)); string(b) != "{}" {
		t.Fatal("the existing config was overwritten")
	}
}

// TestSGDMatchesPyTorch checks the update against values computed by hand
// with PyTorch's formulas, over a learning-rate change.
func TestSGDMatchesPyTorch(t *testing.T) {
	o := NewSGD([]int{2}, 0.9, 0.1)
	w := [][]float32{{1, -2}}
	g := [][]float32{{0.5, 0.25}}
	o.Step(w, g, 0.1) // d = (0.6, 0.05); b = d; w = (0.94, -2.005)
	o.Step(w, g, 0.01)
	// d = g + 0.1 w = (0.594, 0.0495); b = 0.9*(0.6, 0.05) + d = (1.134, 0.0945)
	want := []float64{0.94 - 0.01*1.134, -2.005 - 0.01*0.0945}
	for i := range want {
		if math.Abs(float64(w[0][i])-want[i]) > 1e-6 {
			t.Errorf("w[%d] = %v, want %v", i, w[0][i], want[i])
		}
	}
}

// TestSGDStepsEveryValueOnce runs two steps over parameters of several
// sizes on three workers, which cut them as one run of values across
// parameter boundaries, and checks every value against the update done
// here one value at a time.
func TestSGDStepsEveryValueOnce(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(3))
	sizes := []int{1, 7, 1000, 3, 4096, 16}
	rng := rand.New(rand.NewSource(1))
	var w, g, want, buf [][]float32
	for _, n := range sizes {
		wi, gi := make([]float32, n), make([]float32, n)
		for j := range wi {
			wi[j], gi[j] = rng.Float32()-0.5, rng.Float32()-0.5
		}
		w, g = append(w, wi), append(g, gi)
		want, buf = append(want, append([]float32(nil), wi...)), append(buf, make([]float32, n))
	}
	o := NewSGD(sizes, 0.9, 5e-4)
	for k, lr := range []float32{0.1, 0.05} {
		o.Step(w, g, float64(lr))
		for i := range want {
			for j := range want[i] {
				d := g[i][j] + float32(5e-4)*want[i][j]
				b := d
				if k > 0 {
					b = float32(0.9)*buf[i][j] + d
				}
				buf[i][j] = b
				want[i][j] -= lr * b
				if w[i][j] != want[i][j] {
					t.Fatalf("step %d: parameter %d value %d = %v, want %v", k, i, j, w[i][j], want[i][j])
				}
			}
		}
	}
}

func TestSchedules(t *testing.T) {
	c := Paper("resnet110")
	if !c.WarmupEnabled() || Paper("resnet56").WarmupEnabled() {
		t.Error("warm-up should be on for resnet110 only")
	}
	for it, want := range map[int]float64{0: 0.1, 31999: 0.1, 32000: 0.01, 48000: 0.001, 63999: 0.001} {
		if got := c.LRAt(it); math.Abs(got-want) > 1e-12 {
			t.Errorf("step LR at %d = %v, want %v", it, got, want)
		}
	}
	c.Schedule = ScheduleCosine
	if got := c.LRAt(32000); math.Abs(got-0.05) > 1e-12 {
		t.Errorf("cosine LR at half = %v", got)
	}
}

// TestStepCollected: a Step dropped without Close is freed. Its graph once
// held pointers back into it, a cycle through the tape machine, whose
// finalizer kept it alive: a sweep kept every finished run's graphs, 3 GB
// by its fourth run.
func TestStepCollected(t *testing.T) {
	leaktest.AssertCollected(t, "a Step", func() (*Step, error) {
		m, err := models.New("resnet20", models.Options{})
		if err != nil {
			return nil, err
		}
		return NewStep(m, 2, 0.9, 1e-4)
	}, func(s *Step) error {
		if _, _, err := s.Run(make([]float32, 2*3*32*32), []int{0, 1}); err != nil {
			return err
		}
		return s.Update(0.1)
	})
}

// TestTrainerCollected: a closed Trainer, after training, evaluating and
// analyzing, is freed with everything it built.
func TestTrainerCollected(t *testing.T) {
	ds := synthetic.CIFAR10(64, 32)
	cfg := tiny(2)
	cfg.Analyze = true
	leaktest.AssertCollected(t, "a closed Trainer", func() (*Trainer, error) {
		return New(cfg, ds, filepath.Join(t.TempDir(), "run"), Output{})
	}, func(tr *Trainer) error {
		_, err := tr.Run(t.Context())
		tr.Close()
		return err
	})
}

// TestWarmup: with the warm-up on, training starts at WarmupLR and returns
// to LR once the training error falls below WarmupErr.
func TestWarmup(t *testing.T) {
	ds := synthetic.CIFAR10(64, 32)
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

// TestResumeWithoutCheckpointRefused: a run directory whose checkpoint was
// deleted is refused by name instead of silently restarting at iteration 0.
func TestResumeWithoutCheckpointRefused(t *testing.T) {
	ds := synthetic.CIFAR10(64, 32)
	dir := filepath.Join(t.TempDir(), "run")
	runTiny(t, tiny(2), ds, dir)
	if err := os.Remove(filepath.Join(dir, CheckpointFile)); err != nil {
		t.Fatal(err)
	}
	if err := Resumable(dir); err == nil || !strings.Contains(err.Error(), "has no checkpoint") {
		t.Fatalf("Resumable: got %v, want the missing checkpoint", err)
	}
	_, err := Resume(dir, ds, Output{}, func(c *Config) { c.Iters = 4 })
	if err == nil || !strings.Contains(err.Error(), "has no checkpoint") || !strings.Contains(err.Error(), dir) {
		t.Fatalf("got %v, want a refusal naming %s and the missing checkpoint", err, dir)
	}
}

// TestNewRunHasCheckpoint: a run interrupted before its first periodic
// checkpoint still resumes, from the checkpoint of iteration 0 that New
// writes.
func TestNewRunHasCheckpoint(t *testing.T) {
	ds := synthetic.CIFAR10(64, 32)
	dir := filepath.Join(t.TempDir(), "run")
	tr, err := New(tiny(2), ds, dir, Output{})
	if err != nil {
		t.Fatal(err)
	}
	tr.Close()
	tr, err = Resume(dir, ds, Output{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if tr.Iteration() != 0 {
		t.Fatalf("resumed at iteration %d, want 0", tr.Iteration())
	}
}

// TestRunDirectoryLocked: while one trainer holds a run directory, a
// second Resume of it is refused; Close releases it.
func TestRunDirectoryLocked(t *testing.T) {
	ds := synthetic.CIFAR10(64, 32)
	dir := filepath.Join(t.TempDir(), "run")
	runTiny(t, tiny(2), ds, dir)
	extend := func(c *Config) { c.Iters = 4 }
	first, err := Resume(dir, ds, Output{}, extend)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Resume(dir, ds, Output{}, extend)
	if err == nil || !strings.Contains(err.Error(), "in use by another process") || !strings.Contains(err.Error(), strconv.Itoa(os.Getpid())) {
		t.Fatalf("second resume: got %v, want a refusal naming the holder's pid", err)
	}
	if err := Resumable(dir); err == nil || !strings.Contains(err.Error(), "in use by another process") {
		t.Fatalf("Resumable while held: got %v", err)
	}
	first.Close()
	if err := Resumable(dir); err != nil {
		t.Fatalf("Resumable after Close: %v", err)
	}
	second, err := Resume(dir, ds, Output{}, extend)
	if err != nil {
		t.Fatalf("after Close: %v", err)
	}
	second.Close()
}

// TestResumeKeepsFixedSettings: a resumed run cannot change what its
// checkpoint and batch order depend on, and reports the field.
func TestResumeKeepsFixedSettings(t *testing.T) {
	ds := synthetic.CIFAR10(64, 32)
	dir := filepath.Join(t.TempDir(), "run")
	runTiny(t, tiny(2), ds, dir)
	_, err := Resume(dir, ds, Output{}, func(c *Config) { c.Iters, c.Seed = 4, 7 })
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "Seed" {
		t.Fatalf("got %v, want a *FieldError on Seed", err)
	}
	tr, err := Resume(dir, ds, Output{}, func(c *Config) { c.Iters, c.EvalEvery = 4, 1 })
	if err != nil {
		t.Fatal(err)
	}
	tr.Close()
	info, err := ReadRunInfo(dir)
	if err != nil || info.Config.Iters != 4 || info.Config.EvalEvery != 1 {
		t.Fatalf("config.json after a changed resume: %+v, %v; want the change recorded", info.Config, err)
	}
}

// TestDivergenceStops: a learning rate that blows the run up stops it with
// ErrDiverged whatever the logging interval, and no non-finite number
// reaches metrics.jsonl.
func TestDivergenceStops(t *testing.T) {
	ds := synthetic.CIFAR10(64, 32)
	for _, logEvery := range []int{1, 2, 50} {
		cfg := tiny(8)
		cfg.LR, cfg.LogEvery = 1e6, logEvery
		dir := filepath.Join(t.TempDir(), "run")
		tr, err := New(cfg, ds, dir, Output{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = tr.Run(context.Background())
		tr.Close()
		if !errors.Is(err, ErrDiverged) || !strings.Contains(err.Error(), "at iteration") {
			t.Fatalf("log every %d: got %v, want ErrDiverged with the iteration", logEvery, err)
		}
		b, _ := os.ReadFile(filepath.Join(dir, MetricsFile))
		if bytes.Contains(b, []byte("NaN")) || bytes.Contains(b, []byte("Inf")) {
			t.Errorf("log every %d: metrics.jsonl holds a non-finite value:\n%s", logEvery, b)
		}
		tr, err = Resume(dir, ds, Output{}, nil)
		if err != nil {
			t.Fatalf("log every %d: the last good checkpoint does not resume: %v", logEvery, err)
		}
		tr.Close()
	}
}

// TestValidateNamesFields: the library reports settings by Config field,
// never by a command's flag.
func TestValidateNamesFields(t *testing.T) {
	c := Paper("resnet20")
	c.Iters = 0
	err := c.Validate()
	if err == nil || err.Error() != "Config.Iters: 0, want > 0" {
		t.Fatalf("got %v", err)
	}
	c = Paper("resnet20")
	c.Schedule = "linear"
	if err := c.Validate(); err == nil || err.Error() != `Config.Schedule: "linear", want step or cosine` {
		t.Fatalf("got %v", err)
	}
}
