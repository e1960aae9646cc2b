"""The model half of streamcls: build, weights, bundle, compiled inference.

Modules: ``build`` (MobileNet + head at any size), ``weights`` (read/write weight
files by layer name), ``imagenet`` (Keras' weight cache, class names), ``load``
(config -> classifier), ``bundle`` (save/load a trained classifier),
``classify`` (the compiled inference callable), ``info`` (MACs, parameters),
``bench`` (compiled call against ``model.predict``).
"""
