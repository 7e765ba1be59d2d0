// Every layer kind's own types (layer_kind_types.hpp: LayerSettings<K>, TraceFigures<K>): the one header that
// includes each kind's, for spec.hpp and trace.hpp, whose structs hold one of every kind's as a member (complete
// types). A new kind adds its line here.
#pragma once

#include "backprop/nn/batch_norm_types.hpp"
#include "backprop/nn/dense_types.hpp"
#include "backprop/nn/embedding_types.hpp"
#include "backprop/nn/layer_kind_types.hpp"
