// Package layers provides the neural-network layers of the zoo as Gorgonia
// expression subgraphs: convolution, batch normalization, ReLU, pooling,
// linear layers, residual shortcuts and the softmax cross-entropy loss.
//
// Each layer is a custom Gorgonia op with a hand-written gradient op, so
// that G.Grad differentiates a graph built from them like any other; the
// float32 kernels underneath (package internal/gemm's SGEMM, internal/vec's
// memory-bound passes) run on all cores. A Scope names a layer's tensors as
// torchvision's state_dict does (layer1.0.conv1.weight) and keeps them in a
// State; a Mode switches batch norm between batch and running statistics.
//
// Run a graph of these layers with NewMachine (Gorgonia's tape machine, with
// the sums of gradients on all cores) and close it with CloseMachine;
// PlanMemory lets the ops' outputs share buffers first. StartOpProfile and
// StopOpProfile time the ops by class, the per-op breakdown of a step.
package layers
