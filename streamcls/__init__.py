"""streamcls: real-time video classification with a Keras MobileNet at any input size.

Importing the package is cheap: TensorFlow is imported only by the functions
that build or run a model.
"""

__version__ = "0.1.0"
