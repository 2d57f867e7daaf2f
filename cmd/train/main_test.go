package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorgonia-zoo/resnet/experiment"
	"github.com/gorgonia-zoo/resnet/train"
	"github.com/gorgonia-zoo/resnet/weights"
)

// archive returns the real CIFAR-10 archive of the project's machines when
// present (../shared/cifar10 beside the module), else writes a small
// synthetic one in the official layout.
func archive(t *testing.T) string {
	t.Helper()
	dir, _ := os.Getwd()
	for !exists(filepath.Join(dir, "go.mod")) && filepath.Dir(dir) != dir {
		dir = filepath.Dir(dir)
	}
	real := filepath.Join(dir, "..", "shared", "cifar10", "cifar-10-binary.tar.gz")
	if exists(real) {
		return real
	}
	t.Logf("%s absent: using a synthetic archive", real)
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	add := func(name string, data []byte) {
		tw.WriteHeader(&tar.Header{Name: "cifar-10-batches-bin/" + name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg})
		tw.Write(data)
	}
	records := func(file, n int) []byte {
		b := make([]byte, n*3073)
		x := uint32(file)
		for i := 0; i < n; i++ {
			b[i*3073] = byte(i % 10)
			for j := 1; j < 3073; j++ {
				x = x*1664525 + 1013904223
				b[i*3073+j] = byte(int(x>>26) + 20*(i%10))
			}
		}
		return b
	}
	add("batches.meta.txt", []byte("airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n"))
	for i := 1; i <= 5; i++ {
		add(fmt.Sprintf("data_batch_%d.bin", i), records(i, 120))
	}
	add("test_batch.bin", records(9, 200))
	tw.Close()
	gz.Close()
	path := filepath.Join(t.TempDir(), "cifar-10-binary.tar.gz")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// TestTinySweep runs fig6-quick cut down to seconds and checks its outputs.
func TestTinySweep(t *testing.T) {
	data := archive(t)
	dir := filepath.Join(t.TempDir(), "sweep")
	var out, errb bytes.Buffer
	start := time.Now()
	err := run(context.Background(), []string{"-sweep", "fig6-quick", "-data", data, "-out", dir,
		"-train-limit", "512", "-iters", "8", "-batch", "32", "-eval-every", "4", "-eval-limit", "200", "-eval-batch", "100", "-log-every", "2", "-analyze"},
		&out, &errb, false)
	if err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	t.Logf("sweep in %v:\n%s", time.Since(start), out.String())
	for _, f := range []string{experiment.Fig6File, experiment.Fig7File, experiment.SummaryMDFile, experiment.SummaryJSONFile} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s missing or empty", f)
		}
	}
	var rs []train.Result
	b, _ := os.ReadFile(filepath.Join(dir, experiment.SummaryJSONFile))
	if err := json.Unmarshal(b, &rs); err != nil || len(rs) != 4 {
		t.Fatalf("summary.json: %v, %d runs", err, len(rs))
	}
	for _, r := range rs {
		if r.Iters != 8 || r.Params == 0 || r.FinalTestErr <= 0 || r.FinalTestErr > 1 || r.WallS <= 0 {
			t.Errorf("implausible result %+v", r)
		}
	}
	md, _ := os.ReadFile(filepath.Join(dir, experiment.SummaryMDFile))
	t.Logf("%s", md)
	// A sweep compared with itself: one panel per model, equal columns,
	// the sides named as asked.
	if err := run(context.Background(), []string{"-compare", dir + "," + dir, "-compare-names", "zero-init,default"}, &out, &errb, false); err != nil {
		t.Fatal(err)
	}
	cmp, err := os.ReadFile(filepath.Join(dir, experiment.CompareMDFile))
	if err != nil || !exists(filepath.Join(dir, experiment.CompareFigFile)) || strings.Count(string(cmp), "| plain20 | 8 |")+strings.Count(string(cmp), "| resnet56 | 8 |") != 2 ||
		!strings.HasPrefix(string(cmp), "# zero-init against default") || !strings.Contains(string(cmp), "| resnet20 | default | . |") {
		t.Fatalf("comparison: %v\n%s", err, cmp)
	}
	// Rerunning the finished sweep with -resume only redraws the summary;
	// starting it again into the same directory is refused.
	if err := run(context.Background(), []string{"-resume", dir, "-data", data}, &out, &errb, false); err != nil {
		t.Fatal(err)
	}
	err = run(context.Background(), []string{"-sweep", "fig6-quick", "-data", data, "-out", dir}, &out, &errb, false)
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("got %v, want a refusal", err)
	}
}

func TestBadFlags(t *testing.T) {
	for _, c := range []struct{ args, want string }{
		{"-lr -1", "-lr"},
		{"-schedule linear", "-schedule"},
		{"-milestones 10,x", "-milestones"},
		{"-model resnet21", "-model"},
		{"-sweep fig9", "-sweep"},
		{"-warmup maybe", "-warmup"},
		{"-batch 0", "-batch"},
		{"-iters 5 -epochs 2", "-epochs"},
		{"-resume x -lr 0.2", "-lr"},
		{"-compare a,b,c", "-compare"},
		{"-compare /nonexistent/ours*,/nonexistent/theirs", "matches no directory"},
		{"-compare /,/ -compare /*,/", "-out"},
		{"-compare /,/ -compare-names ours", "-compare-names"},
		{"-compare-names a,b", "-compare-names"},
		{"-models resnet20", "-models"},
		{"-sweep fig6-quick -models resnet20,resnet32", "resnet32"},
	} {
		var out, errb bytes.Buffer
		err := run(context.Background(), strings.Fields(c.args), &out, &errb, false)
		if _, ok := err.(usageError); !ok || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want a usage error naming %s", c.args, err, c.want)
		}
		if !strings.Contains(errb.String(), "Usage of train") {
			t.Errorf("%s: no usage printed", c.args)
		}
	}
}

func TestSummaryUnchanged(t *testing.T) {
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"-model", "resnet56", "-summary"}, &out, &errb, false); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(out.String(), "params: 853018 macs: 125485696\n") {
		t.Fatalf("summary ends with %q", out.String()[max(0, out.Len()-60):])
	}
}

// TestWeightsFlags: a run leaves weights.safetensors, which -eval scores,
// -predict classifies images with, and -init-from starts a new run from.
func TestWeightsFlags(t *testing.T) {
	data := archive(t)
	dir := t.TempDir()
	run1 := filepath.Join(dir, "run1")
	var out, errb bytes.Buffer
	small := []string{"-data", data, "-train-limit", "256", "-iters", "2", "-batch", "32", "-eval-limit", "64", "-eval-batch", "64"}
	if err := run(context.Background(), append([]string{"-model", "resnet20", "-out", run1}, small...), &out, &errb, false); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	w := filepath.Join(run1, train.WeightsFile)
	// The weights carry the exact mean image training subtracted.
	md, err := weights.ReadMetadata(w)
	if err != nil {
		t.Fatal(err)
	}
	var stats struct{ Mean []float32 }
	b, _ := os.ReadFile(filepath.Join(run1, train.StatsFile))
	if err := json.Unmarshal(b, &stats); err != nil || len(stats.Mean) != 3*32*32 {
		t.Fatalf("stats.json: %v, %d mean values", err, len(stats.Mean))
	}
	pixelMean, err := weights.ParseFloats(md[weights.KeyNormalizePixelMean])
	if err != nil || len(pixelMean) != len(stats.Mean) {
		t.Fatalf("%s: %v, %d values", weights.KeyNormalizePixelMean, err, len(pixelMean))
	}
	for i, v := range pixelMean {
		if float32(v) != stats.Mean[i] {
			t.Fatalf("mean image value %d: %v in the weights, %v in stats.json", i, v, stats.Mean[i])
		}
	}
	out.Reset()
	if err := run(context.Background(), []string{"-eval", "-weights", w, "-data", data, "-eval-limit", "64"}, &out, &errb, false); err != nil {
		t.Fatalf("-eval: %v\n%s", err, errb.String())
	}
	if !strings.Contains(out.String(), "resnet20 on 64 test images") || !strings.Contains(out.String(), "test error") {
		t.Errorf("-eval printed %q", out.String())
	}

	img := image.NewRGBA(image.Rect(0, 0, 32, 32))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	png1 := filepath.Join(dir, "a.png")
	var pb bytes.Buffer
	if err := png.Encode(&pb, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(png1, pb.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run(context.Background(), []string{"-weights", w, "-predict", "-json", png1}, &out, &errb, false); err != nil {
		t.Fatalf("-predict: %v\n%s", err, errb.String())
	}
	var res struct {
		Image string
		Top5  []struct {
			Class int
			Name  string
			Prob  float64
		}
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || res.Image != png1 || len(res.Top5) != 5 || res.Top5[0].Prob < res.Top5[4].Prob {
		t.Errorf("-predict -json printed %q (%v)", out.String(), err)
	}

	run2 := filepath.Join(dir, "run2")
	if err := run(context.Background(), append([]string{"-model", "resnet20", "-init-from", w, "-out", run2}, small...), &out, &errb, false); err != nil {
		t.Fatalf("-init-from: %v\n%s", err, errb.String())
	}
	for _, c := range []struct{ args, want string }{
		{"-predict -weights " + w, "-predict"},
		{"-eval", "-eval needs -weights"},
		{"-weights " + w, "-weights"},
		{"-model resnet56 -eval -weights " + w, "resnet20 weights"},
	} {
		err := run(context.Background(), strings.Fields(c.args), &out, &errb, false)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error naming %s", c.args, err, c.want)
		}
	}
}
