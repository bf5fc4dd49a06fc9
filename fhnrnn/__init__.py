"""fhnrnn: opening up a recurrent network trained on the FitzHugh-Nagumo neuron.

The package holds all the computing behind the notebooks: the FHN model (:mod:`fhnrnn.fhn`),
datasets (:mod:`fhnrnn.tasks`), RNN cells (:mod:`fhnrnn.models`), training
(:mod:`fhnrnn.training`, its settings :mod:`fhnrnn.fit_options`), the Sussillo & Barak
fixed-point engine (:mod:`fhnrnn.fixedpoints`), analysis (:mod:`fhnrnn.analysis`), figures
(:mod:`fhnrnn.plotting`), numbers for the paper (:mod:`fhnrnn.paper`), the training recipes of
the notebooks (:mod:`fhnrnn.recipes`), the shipped networks they analyse
(:mod:`fhnrnn.artifacts`) and notebook reproduction (:mod:`fhnrnn.reproduce`).
"""

__version__ = "0.1.0"
