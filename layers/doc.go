// Package layers provides the neural-network layers of the zoo as Gorgonia
// expression subgraphs: convolution, batch normalization, ReLU, pooling,
// linear layers, residual shortcuts and the softmax cross-entropy loss.
package layers
