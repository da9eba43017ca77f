"""Operations, advanced stage by stage by the engine's workers.

* ``processor``: the loop of one operation: start it when nothing else runs on the instance, run its next
  stage outside any transaction, write the outcome in one version-checked transaction.
* ``workflows``: which stages make up a provisioning, an update, a deprovisioning and a suspension (KEB's
  ``cmd/broker/{provisioning,update,deprovisioning}.go``).
* ``steps``: what each stage does against the control plane and the account pool.
* ``outcomes``: what a stage answers (proceed, wait, fail) and what it is given.

Claiming due operations with a lease and running them on workers is the engine's (``keb_app.engine``).
"""

from keb_domain.usecases.processing.processor import CANCELLED, TIME_LIMIT, OperationProcessor
from keb_domain.usecases.processing.steps import SLOW_PROVISIONING

__all__ = ["CANCELLED", "SLOW_PROVISIONING", "TIME_LIMIT", "OperationProcessor"]
