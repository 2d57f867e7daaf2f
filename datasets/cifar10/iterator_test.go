package cifar10

import (
	"encoding/binary"
	"encoding/json"
	"hash/fnv"
	"math"
	"reflect"
	"strings"
	"testing"
)

// testSet is a small set: 103 images, so batches of 8 leave 7 over.
func testSet() *Set { return wantSet(records(1, 103)) }

func testStats(t testing.TB, s *Set, n Normalization) Stats {
	t.Helper()
	st, err := ComputeStats(s, n)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// digest identifies a batch by its position and contents.
type digest struct {
	Epoch, Index, Iteration, Size int
	Sum                           uint64
}

func digestOf(b *Batch) digest {
	h := fnv.New64a()
	var buf [4]byte
	for _, v := range b.Images {
		binary.LittleEndian.PutUint32(buf[:], math.Float32bits(v))
		h.Write(buf[:])
	}
	for _, l := range b.Labels {
		h.Write([]byte{byte(l)})
	}
	return digest{b.Epoch, b.Index, b.Iteration, b.Size, h.Sum64()}
}

// collect returns the digests of up to n batches.
func collect(t *testing.T, set *Set, st Stats, opts TrainOptions, n int) []digest {
	t.Helper()
	it, err := NewTrainIterator(set, st, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var out []digest
	for len(out) < n {
		b, ok := it.Next()
		if !ok {
			break
		}
		out = append(out, digestOf(b))
		b.Release()
	}
	return out
}

func TestAugmentedCrop(t *testing.T) {
	src := records(3, 1)[1:]
	// Random per-pixel means, so using the mean of the wrong position shows.
	st := Stats{Normalization: PerPixelMean, Mean: make([]float32, ImageLen)}
	for i := range st.Mean {
		st.Mean[i] = float32(mix(uint64(i))%1000) / 1000
	}
	n, err := newNormalizer(st)
	if err != nil {
		t.Fatal(err)
	}
	// The padded raw image, as torchvision's RandomCrop(32, padding=4) sees it.
	const side = Width + 2*pad
	var padded [Channels][side][side]byte
	for c := range Channels {
		for y := range Height {
			for x := range Width {
				padded[c][y+pad][x+pad] = src[c*PlaneLen+y*Width+x]
			}
		}
	}
	got := make([]float32, ImageLen)
	for dy := 0; dy <= 2*pad; dy++ {
		for dx := 0; dx <= 2*pad; dx++ {
			for _, flip := range []bool{false, true} {
				n.augmented(got, src, dx, dy, flip)
				for c := range Channels {
					for y := range Height {
						for x := range Width {
							cx := x
							if flip {
								cx = Width - 1 - x
							}
							raw := padded[c][y+dy][cx+dx]
							i := c*PlaneLen + y*Width + x
							want := float32(raw)*(1.0/255) - st.Mean[i] // normalized after cropping
							if got[i] != want {
								t.Fatalf("crop (%d,%d) flip %v: channel %d pixel (%d,%d) = %v, want %v (raw %d)", dx, dy, flip, c, x, y, got[i], want, raw)
							}
						}
					}
				}
			}
		}
	}
}

func TestAugmentedPaddingValue(t *testing.T) {
	// torchvision pads raw pixels with 0 and normalizes afterwards, so padding
	// becomes -mean/std, not 0.
	st := Stats{Normalization: PerChannel, Mean: []float32{0.5, 0.25, 0.125}, Std: []float32{0.25, 0.5, 1}}
	n, err := newNormalizer(st)
	if err != nil {
		t.Fatal(err)
	}
	src := make([]byte, ImageLen)
	for i := range src {
		src[i] = 255
	}
	got := make([]float32, ImageLen)
	n.augmented(got, src, 0, 0, false) // 4 padding rows on top, 4 padding columns on the left
	for c, want := range []float32{-2, -0.5, -0.125} {
		if v := got[c*PlaneLen]; v != want {
			t.Errorf("channel %d padding = %v, want %v", c, v, want)
		}
		inside := got[c*PlaneLen+pad*Width+pad]
		if w := (1 - st.Mean[c]) / st.Std[c]; math.Abs(float64(inside-w)) > 1e-6 {
			t.Errorf("channel %d image pixel = %v, want %v", c, inside, w)
		}
	}
}

func TestAugmentedFlipMirrors(t *testing.T) {
	src := records(4, 1)[1:]
	n, err := newNormalizer(testStats(t, testSet(), PerChannel))
	if err != nil {
		t.Fatal(err)
	}
	plain, flipped := make([]float32, ImageLen), make([]float32, ImageLen)
	n.plain(plain, src)
	n.augmented(flipped, src, pad, pad, true)
	for c := range Channels {
		for y := range Height {
			for x := range Width {
				row := c*PlaneLen + y*Width
				if flipped[row+x] != plain[row+Width-1-x] {
					t.Fatalf("flipped (%d,%d,%d) = %v, want mirrored %v", c, x, y, flipped[row+x], plain[row+Width-1-x])
				}
			}
		}
	}
	centre := make([]float32, ImageLen)
	n.augmented(centre, src, pad, pad, false)
	if !reflect.DeepEqual(centre, plain) {
		t.Error("the centre crop without flip is not the image")
	}
}

func TestCropAndFlipCoverage(t *testing.T) {
	var crops [2*pad + 1][2*pad + 1]int
	flips := 0
	const n = 81000
	for i := range n {
		dx, dy, flip := cropAndFlip(mix(uint64(i)))
		crops[dy][dx]++
		if flip {
			flips++
		}
	}
	for dy, row := range crops {
		for dx, c := range row {
			if c < 800 || c > 1200 { // 1000 expected; 6+ standard deviations
				t.Errorf("crop (%d,%d) drawn %d times of %d", dx, dy, c, n)
			}
		}
	}
	if flips < n/2-1500 || flips > n/2+1500 {
		t.Errorf("%d flips of %d", flips, n)
	}
}

func TestTrainIterator(t *testing.T) {
	set := testSet()
	st := testStats(t, set, PerPixelMean)
	norm, _ := newNormalizer(st)
	it, err := NewTrainIterator(set, st, TrainOptions{BatchSize: 8, Seed: 1, Epochs: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	if it.BatchesPerEpoch() != 12 {
		t.Fatalf("BatchesPerEpoch = %d, want 12 (103/8, the partial batch dropped)", it.BatchesPerEpoch())
	}
	var orders [3][]int32
	candidate := make([]float32, ImageLen)
	for i := 0; ; i++ {
		b, ok := it.Next()
		if !ok {
			if i != 36 {
				t.Fatalf("iteration ended after %d batches, want 36", i)
			}
			break
		}
		if b.Epoch != i/12 || b.Index != i%12 || b.Iteration != i || b.Size != 8 || len(b.Labels) != 8 || len(b.Images) != 8*ImageLen {
			t.Fatalf("batch %d: epoch %d index %d iteration %d size %d, %d labels, %d floats", i, b.Epoch, b.Index, b.Iteration, b.Size, len(b.Labels), len(b.Images))
		}
		orders[b.Epoch] = append(orders[b.Epoch], b.indices[:b.Size]...)
		// Every image is one of the 162 augmentations of the image it claims to be.
		for k := range b.Size {
			src := set.Image(int(b.indices[k]))
			if b.Labels[k] != int(set.Labels[b.indices[k]]) {
				t.Fatalf("batch %d image %d: label %d, want %d", i, k, b.Labels[k], set.Labels[b.indices[k]])
			}
			img := b.Images[k*ImageLen : (k+1)*ImageLen]
			found := false
			for a := 0; a < 162 && !found; a++ {
				norm.augmented(candidate, src, a%9, a/9%9, a >= 81)
				found = reflect.DeepEqual(candidate, img)
			}
			if !found {
				t.Fatalf("batch %d image %d is no crop or flip of image %d", i, k, b.indices[k])
			}
		}
		b.Release()
	}
	for e, order := range orders {
		seen := map[int32]bool{}
		for _, i := range order {
			if seen[i] {
				t.Fatalf("epoch %d visits image %d twice", e, i)
			}
			seen[i] = true
		}
		if len(seen) != 96 {
			t.Errorf("epoch %d visits %d images, want 96", e, len(seen))
		}
	}
	if reflect.DeepEqual(orders[0], orders[1]) || reflect.DeepEqual(orders[1], orders[2]) {
		t.Error("epochs share their order; want a new shuffle each epoch")
	}
	if _, ok := it.Next(); ok {
		t.Error("Next after the end returned a batch")
	}
}

func TestTrainIteratorDeterminism(t *testing.T) {
	set := testSet()
	st := testStats(t, set, PerChannel)
	const epochs, perEpoch = 3, 12
	straight := collect(t, set, st, TrainOptions{BatchSize: 8, Seed: 42, Epochs: epochs}, 1000)
	if len(straight) != epochs*perEpoch {
		t.Fatalf("%d batches, want %d", len(straight), epochs*perEpoch)
	}
	if again := collect(t, set, st, TrainOptions{BatchSize: 8, Seed: 42, Epochs: epochs}, 1000); !reflect.DeepEqual(again, straight) {
		t.Error("same seed, different batches")
	}
	other := collect(t, set, st, TrainOptions{BatchSize: 8, Seed: 43, Epochs: epochs}, 1000)
	for i := range other {
		if other[i].Sum == straight[i].Sum {
			t.Errorf("seeds 42 and 43 give the same batch %d", i)
		}
	}

	t.Run("workers", func(t *testing.T) {
		for _, wb := range [][2]int{{1, 1}, {2, 0}, {3, 3}, {8, 16}} {
			got := collect(t, set, st, TrainOptions{BatchSize: 8, Seed: 42, Epochs: epochs, Workers: wb[0], Buffers: wb[1]}, 1000)
			if !reflect.DeepEqual(got, straight) {
				t.Errorf("%d workers and %d buffers change the batches", wb[0], wb[1])
			}
		}
	})

	t.Run("resume", func(t *testing.T) {
		for _, start := range [][2]int{{0, 0}, {0, 5}, {1, 0}, {1, 11}, {2, 3}, {0, 29}, {1, 13}} {
			got := collect(t, set, st, TrainOptions{BatchSize: 8, Seed: 42, Epochs: epochs, StartEpoch: start[0], StartBatch: start[1], Workers: 2}, 1000)
			from := start[0]*perEpoch + start[1]
			if !reflect.DeepEqual(got, straight[from:]) {
				t.Errorf("starting at epoch %d batch %d differs from a straight run", start[0], start[1])
			}
		}
		if got := collect(t, set, st, TrainOptions{BatchSize: 8, Seed: 42, Epochs: 1, StartEpoch: 1}, 1000); len(got) != 0 {
			t.Errorf("starting after the last epoch yields %d batches", len(got))
		}
	})

	t.Run("endless", func(t *testing.T) {
		got := collect(t, set, st, TrainOptions{BatchSize: 8, Seed: 42, StartBatch: 7}, 100)
		if len(got) != 100 || !reflect.DeepEqual(got[:epochs*perEpoch-7], straight[7:]) {
			t.Fatal("the endless stream differs from a straight run")
		}
		if last := got[99]; last.Epoch != (99+7)/perEpoch || last.Index != (99+7)%perEpoch || last.Iteration != 106 {
			t.Errorf("batch 100 of the stream is %+v", last)
		}
	})
}

func TestEvalIterator(t *testing.T) {
	set := testSet()
	st := testStats(t, set, PerChannel)
	want := make([]float32, ImageLen)
	for _, workers := range []int{1, 3} {
		it, err := NewEvalIterator(set, st, EvalOptions{BatchSize: 8, Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		if it.BatchesPerEpoch() != 13 {
			t.Errorf("BatchesPerEpoch = %d, want 13", it.BatchesPerEpoch())
		}
		next := 0
		for b, ok := it.Next(); ok; b, ok = it.Next() {
			wantSize := min(8, set.Len()-next)
			if b.Size != wantSize || len(b.Labels) != wantSize || len(b.Images) != wantSize*ImageLen || cap(b.Images) != 8*ImageLen {
				t.Fatalf("batch %d: size %d, %d labels, %d floats (cap %d); want size %d", b.Index, b.Size, len(b.Labels), len(b.Images), cap(b.Images), wantSize)
			}
			for k := range b.Size {
				if err := st.Normalize(want, set.Image(next)); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(b.Images[k*ImageLen:(k+1)*ImageLen], want) || b.Labels[k] != int(set.Labels[next]) {
					t.Fatalf("batch %d image %d is not test image %d, normalized and unaugmented", b.Index, k, next)
				}
				next++
			}
			for _, v := range b.Images[len(b.Images):cap(b.Images)] {
				if v != 0 {
					t.Fatal("the unused tail of a partial batch is not zero")
				}
			}
			b.Release()
		}
		if next != set.Len() {
			t.Errorf("evaluation covered %d of %d images", next, set.Len())
		}
		it.Close()
	}
}

func TestIteratorSteadyStateAllocations(t *testing.T) {
	set := testSet()
	st := testStats(t, set, PerPixelMean)
	for _, workers := range []int{1, 2} {
		it, err := NewTrainIterator(set, st, TrainOptions{BatchSize: 8, Seed: 1, Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		step := func() {
			b, _ := it.Next()
			b.Release()
		}
		for range 30 { // warm up: goroutines started, several epochs shuffled
			step()
		}
		// Counts every allocation in the process, the workers' included.
		if allocs := testing.AllocsPerRun(100, step); allocs != 0 {
			t.Errorf("%d workers: %v allocations per batch, want 0", workers, allocs)
		}
		it.Close()
	}
}

func TestIteratorRelease(t *testing.T) {
	set := testSet()
	st := testStats(t, set, PerChannel)
	it, err := NewTrainIterator(set, st, TrainOptions{BatchSize: 8, Buffers: 2})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := it.Next()
	b, _ := it.Next()
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Next with every buffer held did not panic")
			}
		}()
		it.Next()
	}()
	a.Release()
	a.Release() // harmless
	c, ok := it.Next()
	if !ok || c.Iteration != 2 {
		t.Fatalf("after a release Next gave iteration %d, %v", c.Iteration, ok)
	}
	it.Close() // with b and c held
	it.Close()
	b.Release()
	c.Release()
	if _, ok := it.Next(); ok {
		t.Error("Next after Close returned a batch")
	}
}

func TestIteratorOptionErrors(t *testing.T) {
	set := testSet()
	st := testStats(t, set, PerChannel)
	bad := []struct {
		name string
		err  error
	}{
		{"batch 0", second(NewTrainIterator(set, st, TrainOptions{}))},
		{"batch larger than set", second(NewTrainIterator(set, st, TrainOptions{BatchSize: 104}))},
		{"negative start", second(NewTrainIterator(set, st, TrainOptions{BatchSize: 8, StartBatch: -1}))},
		{"negative workers", second(NewTrainIterator(set, st, TrainOptions{BatchSize: 8, Workers: -1}))},
		{"no stats", second(NewTrainIterator(set, Stats{}, TrainOptions{BatchSize: 8}))},
		{"zero std", second(NewTrainIterator(set, Stats{Normalization: PerChannel, Mean: []float32{0, 0, 0}, Std: []float32{1, 0, 1}}, TrainOptions{BatchSize: 8}))},
		{"eval batch 0", second(NewEvalIterator(set, st, EvalOptions{}))},
		{"eval empty", second(NewEvalIterator(&Set{}, st, EvalOptions{BatchSize: 8}))},
		{"eval nil", second(NewEvalIterator(nil, st, EvalOptions{BatchSize: 8}))},
		{"bad label", second(NewEvalIterator(&Set{Pixels: make([]byte, ImageLen), Labels: []uint8{10}}, st, EvalOptions{BatchSize: 8}))},
	}
	for _, b := range bad {
		if b.err == nil {
			t.Errorf("%s: no error", b.name)
		}
	}
}

func second(it *Iterator, err error) error {
	if it != nil {
		it.Close()
	}
	return err
}

func TestComputeStats(t *testing.T) {
	// Two images: all 0 and all 255 in red; 51 and 102 in green; blue 255 and 0.
	s := &Set{Pixels: make([]byte, 2*ImageLen), Labels: []uint8{0, 1}}
	for i := range PlaneLen {
		s.Pixels[i], s.Pixels[ImageLen+i] = 0, 255
		s.Pixels[PlaneLen+i], s.Pixels[ImageLen+PlaneLen+i] = 51, 102
		s.Pixels[2*PlaneLen+i], s.Pixels[ImageLen+2*PlaneLen+i] = 255, 0
	}
	s.Pixels[5] = 10 // one red pixel of the first image differs
	pp := testStats(t, s, PerPixelMean)
	if len(pp.Mean) != ImageLen || len(pp.Std) != 0 {
		t.Fatalf("per-pixel stats have %d means and %d stds", len(pp.Mean), len(pp.Std))
	}
	for i, want := range map[int]float32{0: 0.5, 5: 265.0 / 510, PlaneLen: 0.3, 2 * PlaneLen: 0.5} {
		if math.Abs(float64(pp.Mean[i]-want)) > 1e-7 {
			t.Errorf("per-pixel mean %d = %v, want %v", i, pp.Mean[i], want)
		}
	}
	pc := testStats(t, s, PerChannel)
	wantMean := []float64{(255*1024 + 10) / (2048 * 255.0), 0.3, 0.5}
	wantStd := []float64{0, 0.1, 0.5}
	wantStd[0] = math.Sqrt((255*255*1024+100)/(2048*255*255.0) - wantMean[0]*wantMean[0])
	for c := range Channels {
		if math.Abs(float64(pc.Mean[c])-wantMean[c]) > 1e-6 || math.Abs(float64(pc.Std[c])-wantStd[c]) > 1e-6 {
			t.Errorf("channel %d: mean %v std %v, want %v and %v", c, pc.Mean[c], pc.Std[c], wantMean[c], wantStd[c])
		}
	}
	if _, err := ComputeStats(&Set{}, PerChannel); err == nil {
		t.Error("stats of an empty set: no error")
	}
	if _, err := ComputeStats(s, Normalization(7)); err == nil {
		t.Error("unknown normalization: no error")
	}

	// Stats saved with the weights come back the same.
	data, err := json.Marshal(pc)
	if err != nil {
		t.Fatal(err)
	}
	var back Stats
	if err := json.Unmarshal(data, &back); err != nil || !reflect.DeepEqual(back, pc) {
		t.Errorf("JSON round trip: %s -> %+v, %v", data, back, err)
	}
	if want := `"normalization":"per-channel"`; !strings.Contains(string(data), want) {
		t.Errorf("JSON %s does not name the normalization (%s)", data, want)
	}
}

// TestStatsValidate: Validate accepts the statistics ComputeStats makes and
// refuses each kind of unusable value with a message naming it.
func TestStatsValidate(t *testing.T) {
	set := testSet()
	for _, n := range []Normalization{PerPixelMean, PerChannel} {
		if err := testStats(t, set, n).Validate(); err != nil {
			t.Errorf("%s statistics from ComputeStats: %v", n, err)
		}
	}
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	pixel := make([]float32, ImageLen)
	pixel[7] = nan
	for _, c := range []struct {
		st   Stats
		want string
	}{
		{Stats{Normalization: PerPixelMean, Mean: make([]float32, 3)}, "need 3072 means and no std, got 3 and 0"},
		{Stats{Normalization: PerPixelMean, Mean: make([]float32, ImageLen), Std: []float32{1, 1, 1}}, "got 3072 and 3"},
		{Stats{Normalization: PerPixelMean, Mean: pixel}, "mean 7 is NaN"},
		{Stats{Normalization: PerChannel, Mean: []float32{0, 0}, Std: []float32{1, 1, 1}}, "need 3 means and stds, got 2 and 3"},
		{Stats{Normalization: PerChannel, Mean: []float32{0, inf, 0}, Std: []float32{1, 1, 1}}, "channel 1 has mean +Inf"},
		{Stats{Normalization: PerChannel, Mean: []float32{0, 0, 0}, Std: []float32{1, 1, 0}}, "channel 2 has mean 0 and std 0"},
		{Stats{Normalization: Normalization(5)}, "unknown normalization 5"},
	} {
		if err := c.st.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s with %d means and %d stds: %v, want an error containing %q", c.st.Normalization, len(c.st.Mean), len(c.st.Std), err, c.want)
		}
	}
}
