"""Code the tests share: the method matrix, miniature ESPnet experiments, a tiny OWSM."""
