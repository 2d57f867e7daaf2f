package weights

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/gorgonia-zoo/resnet/blocks"
	"github.com/gorgonia-zoo/resnet/layers"
	"github.com/gorgonia-zoo/resnet/models"
	"github.com/gorgonia-zoo/resnet/safetensors"
	"github.com/pkg/errors"
	"gorgonia.org/tensor"
)

// Metadata keys Save writes, LoadModel reads and InputNormalization reads.
// All values are strings, as safetensors requires.
const (
	// KeyFormat is "pt", the value PyTorch-oriented safetensors writers use.
	KeyFormat = "format"
	// KeyModel is the zoo model name, e.g. "resnet56" (models.Names()).
	KeyModel = "model"
	// KeyNumClasses is the width of the classifier "fc", e.g. "10".
	KeyNumClasses = "num_classes"
	// KeyDtype is the model's element type, "float32" or "float64".
	KeyDtype = "dtype"
	// KeyShortcut is the shortcut of blocks that change shape, "A" or "B".
	KeyShortcut = "shortcut"
	// KeyStrideOnFirst1x1 is "true" for Bottleneck models with the paper's
	// stride placement (models.Options.StrideOnFirst1x1); absent otherwise.
	KeyStrideOnFirst1x1 = "stride_on_first_1x1"
	// KeyNormalization is how inputs were normalized in training, in
	// cifar10.Normalization's text form: "per-pixel-mean" (with
	// KeyNormalizePixelMean) or "per-channel" (with KeyNormalizeMean and
	// KeyNormalizeStd). See InputNormalization.
	KeyNormalization = "normalization"
	// KeyNormalizeMean is the per-channel (R,G,B) mean subtracted from
	// inputs scaled to [0,1] in training, as comma-separated decimal floats:
	// "0.4914,0.4822,0.4465".
	KeyNormalizeMean = "normalize_mean"
	// KeyNormalizeStd is the per-channel standard deviation inputs were
	// divided by, in the same form: "0.2470,0.2435,0.2616".
	KeyNormalizeStd = "normalize_std"
	// KeyNormalizePixelMean is, for per-pixel-mean normalization (He et
	// al.'s CIFAR preprocessing), the mean image subtracted from inputs
	// scaled to [0,1]: 3 x 32 x 32 values in CHW order, in the same form.
	// KeyNormalizeMean then holds its per-channel averages and
	// KeyNormalizeStd "1,1,1", for readers that know only those keys.
	KeyNormalizePixelMean = "normalize_pixel_mean"
)

// ModelMetadata returns the metadata Save records for m: format, model,
// num_classes, dtype, shortcut and, when set, stride_on_first_1x1.
func ModelMetadata(m *models.Model) map[string]string {
	o := m.Options()
	md := map[string]string{
		KeyFormat:     "pt",
		KeyModel:      m.Name(),
		KeyNumClasses: strconv.Itoa(o.NumClasses),
		KeyDtype:      o.Dtype.String(),
		KeyShortcut:   string(rune(o.Shortcut)),
	}
	if o.StrideOnFirst1x1 {
		md[KeyStrideOnFirst1x1] = "true"
	}
	return md
}

// Save writes m's State to path as a safetensors file, atomically, under
// torchvision's state_dict names and layouts: float32 models as F32, float64
// models as F64, num_batches_tracked as I64 scalars. The metadata holds the
// caller's keys (for example KeyNormalizeMean and KeyNormalizeStd) and
// ModelMetadata(m), which wins where both set a key.
func Save(path string, m *models.Model, metadata map[string]string) error {
	md := map[string]string{}
	for k, v := range metadata {
		md[k] = v
	}
	for k, v := range ModelMetadata(m) {
		md[k] = v
	}
	f, err := Encode(m.State(), md)
	if err != nil {
		return errors.WithMessagef(err, "weights: save %s", m.Name())
	}
	if err := safetensors.WriteFile(path, f); err != nil {
		return errors.WithMessage(err, "weights")
	}
	return nil
}

// Encode returns the tensors of st as a safetensors File with the given
// metadata (which may be nil). The data is copied.
func Encode(st *layers.State, metadata map[string]string) (*safetensors.File, error) {
	f := &safetensors.File{Metadata: metadata}
	for _, e := range st.Entries() {
		shape := []int(e.Value.Shape())
		switch e.Value.Dtype() {
		case tensor.Float32:
			f.Tensors = append(f.Tensors, safetensors.FromFloat32(e.Name, shape, e.Value.Float32s()))
		case tensor.Float64:
			f.Tensors = append(f.Tensors, safetensors.FromFloat64(e.Name, shape, e.Value.Float64s()))
		case tensor.Int64:
			f.Tensors = append(f.Tensors, safetensors.FromInt64(e.Name, shape, e.Value.Int64s()))
		default:
			return nil, errors.Errorf("%s: cannot encode dtype %v", e.Name, e.Value.Dtype())
		}
	}
	return f, nil
}

// LoadOptions tune Load. The zero value is a strict load of every tensor.
type LoadOptions struct {
	// NonStrict loads the tensors that match and reports the others in the
	// Report instead of failing; the model keeps its values for those. It
	// is named so that the zero value is strict (a -strict=false flag maps
	// to NonStrict: true). A non-strict load still fails when no tensor at
	// all matches.
	NonStrict bool
	// SkipPrefixes names tensors to leave alone: a tensor, in the model or
	// in the file, whose name starts with one of them is neither loaded
	// nor checked, and is listed in Report.Skipped. Fine-tuning on another
	// number of classes uses []string{"fc."}: the model keeps its freshly
	// initialized classifier.
	SkipPrefixes []string
}

// Problem is what is wrong with one tensor in a load.
type Problem string

// The problems Load detects.
const (
	// Missing: the model has the tensor, the file does not.
	Missing Problem = "missing"
	// Unexpected: the file has the tensor, the model does not.
	Unexpected Problem = "unexpected"
	// Misshapen: both have it, with different shapes.
	Misshapen Problem = "misshapen"
	// WrongDtype: same shape, but a dtype that cannot be converted (F32
	// and F64 convert into each other; num_batches_tracked must be I64).
	WrongDtype Problem = "wrong dtype"
)

// Mismatch is one tensor that could not be loaded.
type Mismatch struct {
	Name    string
	Problem Problem
	// Want is the model's dtype and shape, e.g. "F32 [16 3 3 3]"; empty for
	// Unexpected tensors.
	Want string
	// Got is the file's dtype and shape; empty for Missing tensors.
	Got string
}

// String formats the mismatch as one line: "misshapen fc.weight: want F32
// [10 64], got F32 [100 64]".
func (m Mismatch) String() string {
	var parts []string
	if m.Want != "" {
		parts = append(parts, "want "+m.Want)
	}
	if m.Got != "" {
		parts = append(parts, "got "+m.Got)
	}
	return fmt.Sprintf("%s %s: %s", m.Problem, m.Name, strings.Join(parts, ", "))
}

// Report is the outcome of a load.
type Report struct {
	// Loaded lists the tensors copied into the model, sorted.
	Loaded []string
	// Skipped lists the tensors (of the model or the file) matched by
	// LoadOptions.SkipPrefixes, sorted.
	Skipped []string
	// Mismatches lists every tensor that did not match, sorted by name. A
	// strict load that returns a Report has none.
	Mismatches []Mismatch
	// Metadata is the file's metadata (nil when it has none).
	Metadata map[string]string
}

// String summarizes the report in one line, followed by one line per
// mismatch.
func (r *Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "loaded %d tensors, skipped %d, %d mismatches", len(r.Loaded), len(r.Skipped), len(r.Mismatches))
	for _, m := range r.Mismatches {
		b.WriteString("\n\t" + m.String())
	}
	return b.String()
}

// MismatchError is the error of a strict load of a file that does not fit
// the model. It lists every mismatch; nothing was loaded.
type MismatchError struct {
	Source     string // the file
	Model      string // the model's name, if known
	Mismatches []Mismatch
}

// Error lists every mismatch, one per line.
func (e *MismatchError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "weights: %s does not fit", e.Source)
	if e.Model != "" {
		fmt.Fprintf(&b, " model %s", e.Model)
	} else {
		b.WriteString(" the model")
	}
	fmt.Fprintf(&b, " (%d mismatches, nothing loaded):", len(e.Mismatches))
	onlyFC := true
	for _, m := range e.Mismatches {
		b.WriteString("\n\t" + m.String())
		if m.Problem != Misshapen || !strings.HasPrefix(m.Name, "fc.") {
			onlyFC = false
		}
	}
	if onlyFC {
		b.WriteString("\n\tonly the classifier differs: to fine-tune on another number of classes skip \"fc.\" (LoadOptions.SkipPrefixes, or InitFrom)")
	}
	return b.String()
}

// Load reads the safetensors file at path into m's State, in place: graphs
// already built from m see the new values. The file must hold exactly the
// model's tensors under torchvision's names, with the model's shapes; F32
// and F64 files both load into float32 and float64 models (converted), and
// num_batches_tracked must be I64. A strict load (the default) of a file
// that does not fit fails with a *MismatchError listing every mismatch and
// changes nothing; with opts.NonStrict it loads what fits and reports the
// rest. A NaN or infinite value in a tensor it loads fails the load, naming
// the file, the tensor and the element, and changes nothing. Files from
// torchvision's state_dict() load as they are.
func Load(path string, m *models.Model, opts LoadOptions) (*Report, error) {
	return load(path, m, opts, false)
}

// InitFrom loads path into m to start training from it: like Load, but
// when the file's classifier has another shape than m's (a different number
// of classes) the "fc." tensors are skipped, so m keeps its freshly
// initialized classifier. Report.Skipped says whether that happened.
func InitFrom(path string, m *models.Model, opts LoadOptions) (*Report, error) {
	return load(path, m, opts, true)
}

// load reads path and loads it into m; with fineTune, a classifier of
// another shape than m's is skipped.
func load(path string, m *models.Model, opts LoadOptions, fineTune bool) (*Report, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, errors.WithMessage(err, "weights")
	}
	return loadFile(path, f, m, opts, fineTune)
}

// loadFile is load of a file already read; source names it in errors.
func loadFile(source string, f *safetensors.File, m *models.Model, opts LoadOptions, fineTune bool) (*Report, error) {
	if e, ok := m.State().Get("fc.weight"); ok && fineTune {
		if t, ok := f.Get("fc.weight"); ok && !slices.Equal(t.Shape, []int(e.Value.Shape())) {
			opts.SkipPrefixes = append(append([]string(nil), opts.SkipPrefixes...), "fc.")
		}
	}
	r, err := LoadState(m.State(), f, opts)
	if me, ok := err.(*MismatchError); ok {
		me.Source, me.Model = source, m.Name()
		return nil, me
	}
	if err != nil {
		return nil, errors.WithMessagef(err, "weights: load %s into %s", source, m.Name())
	}
	return r, nil
}

// LoadModel builds the model a file saved by Save describes (metadata keys
// model, num_classes, shortcut, stride_on_first_1x1) and loads it strictly.
// Fields of opts that are set win over the metadata; Dtype defaults to
// float32 whatever the file holds.
func LoadModel(path string, opts models.Options) (*models.Model, *Report, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, nil, errors.WithMessage(err, "weights")
	}
	return DecodeModel(path, f, opts)
}

// DecodeModel is LoadModel of a file already read (from memory, an
// embedded file system, a network); source names it in errors.
func DecodeModel(source string, f *safetensors.File, opts models.Options) (*models.Model, *Report, error) {
	md := f.Metadata
	name := md[KeyModel]
	if name == "" {
		return nil, nil, errors.Errorf("weights: %s has no %q metadata; build the model with models.New and use Load", source, KeyModel)
	}
	if opts.NumClasses == 0 && md[KeyNumClasses] != "" {
		n, err := strconv.Atoi(md[KeyNumClasses])
		if err != nil || n <= 0 {
			return nil, nil, errors.Errorf("weights: %s: bad %s %q", source, KeyNumClasses, md[KeyNumClasses])
		}
		opts.NumClasses = n
	}
	if s := md[KeyShortcut]; opts.Shortcut == 0 && s != "" {
		if s != "A" && s != "B" {
			return nil, nil, errors.Errorf("weights: %s: bad %s %q, want A or B", source, KeyShortcut, s)
		}
		opts.Shortcut = blocks.Shortcut(s[0])
	}
	if md[KeyStrideOnFirst1x1] == "true" {
		opts.StrideOnFirst1x1 = true
	}
	m, err := models.New(name, opts)
	if err != nil {
		return nil, nil, errors.WithMessagef(err, "weights: %s", source)
	}
	r, err := loadFile(source, f, m, LoadOptions{}, false)
	if err != nil {
		return nil, nil, err
	}
	return m, r, nil
}

// skipped reports whether name starts with one of prefixes.
func skipped(name string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// describe formats a dtype and shape as "F32 [16 3 3 3]".
func describe(dt safetensors.DType, shape []int) string {
	return fmt.Sprintf("%s %v", dt, shape)
}

// fileDType is the safetensors dtype that stores a State tensor of dtype dt.
func fileDType(dt tensor.Dtype) safetensors.DType {
	switch dt {
	case tensor.Float32:
		return safetensors.F32
	case tensor.Float64:
		return safetensors.F64
	case tensor.Int64:
		return safetensors.I64
	}
	return safetensors.DType(dt.String())
}

// compatible reports whether a file tensor of dtype got can fill a State
// tensor of dtype want.
func compatible(want tensor.Dtype, got safetensors.DType) bool {
	switch want {
	case tensor.Float32, tensor.Float64:
		return got == safetensors.F32 || got == safetensors.F64
	case tensor.Int64:
		return got == safetensors.I64
	}
	return false
}

// LoadState is Load on a State and a safetensors File already read: the
// same checks (NaN and infinite floats included), options and in-place
// copies. Use it for networks built by
// hand from layers and blocks. A *MismatchError it returns has no Source.
func LoadState(st *layers.State, f *safetensors.File, opts LoadOptions) (*Report, error) {
	r := &Report{Metadata: f.Metadata}
	type pair struct {
		e *layers.Entry
		t safetensors.Tensor
	}
	var fits []pair
	inFile := map[string]bool{}
	for _, t := range f.Tensors {
		inFile[t.Name] = true
	}
	for _, e := range st.Entries() {
		want := describe(fileDType(e.Value.Dtype()), []int(e.Value.Shape()))
		if skipped(e.Name, opts.SkipPrefixes) {
			r.Skipped = append(r.Skipped, e.Name)
			continue
		}
		t, ok := f.Get(e.Name)
		if !ok {
			r.Mismatches = append(r.Mismatches, Mismatch{Name: e.Name, Problem: Missing, Want: want})
			continue
		}
		got := describe(t.DType, t.Shape)
		switch {
		case !slices.Equal(t.Shape, []int(e.Value.Shape())):
			r.Mismatches = append(r.Mismatches, Mismatch{Name: e.Name, Problem: Misshapen, Want: want, Got: got})
		case !compatible(e.Value.Dtype(), t.DType):
			r.Mismatches = append(r.Mismatches, Mismatch{Name: e.Name, Problem: WrongDtype, Want: want, Got: got})
		default:
			fits = append(fits, pair{e, t})
		}
	}
	for _, t := range f.Tensors {
		if _, ok := st.Get(t.Name); ok {
			continue
		}
		if skipped(t.Name, opts.SkipPrefixes) {
			r.Skipped = append(r.Skipped, t.Name)
			continue
		}
		r.Mismatches = append(r.Mismatches, Mismatch{Name: t.Name, Problem: Unexpected, Got: describe(t.DType, t.Shape)})
	}
	sort.Slice(r.Mismatches, func(i, j int) bool { return r.Mismatches[i].Name < r.Mismatches[j].Name })
	r.Skipped = dedupSorted(r.Skipped)
	if len(r.Mismatches) > 0 && (!opts.NonStrict || len(fits) == 0) {
		return nil, &MismatchError{Mismatches: r.Mismatches}
	}
	// Decode and check everything before touching the State, so that a
	// corrupt tensor leaves the model as it was.
	decoded := make([]any, len(fits))
	for i, p := range fits {
		v, err := decode(p.t, p.e.Value.Dtype())
		if err != nil {
			return nil, err
		}
		at, x := -1, 0.0
		switch v := v.(type) {
		case []float32:
			at, x = firstNonFinite(v)
		case []float64:
			at, x = firstNonFinite(v)
		}
		if at >= 0 {
			return nil, errors.Errorf("tensor %s: element %d is %v", p.t.Name, at, x)
		}
		decoded[i] = v
	}
	for i, p := range fits {
		switch v := decoded[i].(type) {
		case []float32:
			copy(p.e.Value.Float32s(), v)
		case []float64:
			copy(p.e.Value.Float64s(), v)
		case []int64:
			copy(p.e.Value.Int64s(), v)
		}
		r.Loaded = append(r.Loaded, p.e.Name)
	}
	sort.Strings(r.Loaded)
	return r, nil
}

// decode returns t's elements as a slice of dtype dt, converting between
// F32 and F64.
func decode(t safetensors.Tensor, dt tensor.Dtype) (any, error) {
	switch {
	case dt == tensor.Int64:
		return t.Int64s()
	case t.DType == safetensors.F32:
		v, err := t.Float32s()
		if err != nil || dt == tensor.Float32 {
			return v, err
		}
		out := make([]float64, len(v))
		for i, x := range v {
			out[i] = float64(x)
		}
		return out, nil
	default:
		v, err := t.Float64s()
		if err != nil || dt == tensor.Float64 {
			return v, err
		}
		out := make([]float32, len(v))
		for i, x := range v {
			out[i] = float32(x)
			if math.IsInf(float64(out[i]), 0) && !math.IsInf(x, 0) {
				return nil, errors.Errorf("tensor %s: element %d, %g, is beyond float32's range", t.Name, i, x)
			}
		}
		return out, nil
	}
}

// firstNonFinite returns the index and value of the first NaN or infinite
// element of v, or -1.
func firstNonFinite[T float32 | float64](v []T) (int, float64) {
	for i, x := range v {
		if x-x != 0 { // NaN for NaN and ±Inf, 0 for every finite x
			return i, float64(x)
		}
	}
	return -1, 0
}

// dedupSorted sorts names and drops repeats.
func dedupSorted(names []string) []string {
	sort.Strings(names)
	out := names[:0]
	for i, n := range names {
		if i == 0 || n != names[i-1] {
			out = append(out, n)
		}
	}
	return out
}

// ReadMetadata returns the "__metadata__" map of the safetensors file at
// path, reading only its header. A file without metadata gives an empty,
// non-nil map.
func ReadMetadata(path string) (map[string]string, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, errors.Wrap(err, "weights")
	}
	defer file.Close()
	var size [8]byte
	if _, err := io.ReadFull(file, size[:]); err != nil {
		return nil, errors.Wrapf(err, "weights: %s: reading the header length", path)
	}
	n := binary.LittleEndian.Uint64(size[:])
	if n > safetensors.MaxHeaderSize {
		return nil, errors.Errorf("weights: %s: header length %d is larger than %d: not a safetensors file", path, n, safetensors.MaxHeaderSize)
	}
	header := make([]byte, n)
	if _, err := io.ReadFull(file, header); err != nil {
		return nil, errors.Wrapf(err, "weights: %s: reading the %d-byte header", path, n)
	}
	var h struct {
		Metadata map[string]string `json:"__metadata__"`
	}
	if err := json.Unmarshal(header, &h); err != nil {
		return nil, errors.Wrapf(err, "weights: %s: bad header", path)
	}
	if h.Metadata == nil {
		h.Metadata = map[string]string{}
	}
	return h.Metadata, nil
}

// ParseFloats parses a comma-separated list of decimal floats, the form of
// KeyNormalizeMean and KeyNormalizeStd ("0.4914,0.4822,0.4465"). Spaces
// around the numbers are allowed.
func ParseFloats(s string) ([]float64, error) {
	var out []float64
	for i, f := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			return nil, errors.Errorf("bad float list: item %d, %q, is not a number", i+1, f)
		}
		out = append(out, v)
	}
	return out, nil
}

// FormatFloats is the inverse of ParseFloats: "0.4914,0.4822,0.4465",
// each value the shortest decimal that reads back exactly in its type.
func FormatFloats[T float32 | float64](v []T) string {
	bits := 64
	if _, ok := any(v).([]float32); ok {
		bits = 32
	}
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.FormatFloat(float64(x), 'g', -1, bits)
	}
	return strings.Join(s, ",")
}
