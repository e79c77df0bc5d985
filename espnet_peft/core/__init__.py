"""Framework-free core: adapter configs and errors, target selection, the adapter layer
protocol, the method registry, the one state object on an adapted model, the base
fingerprint, and injection/initialisation/merging/counting. Imports no ESPnet."""
