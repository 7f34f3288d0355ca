"""A kernel manager that gives a kernel leaving Voila's preheated pool a fresh idle clock.

Voila 0.5 protects pooled kernels from culling, but a pooled kernel's last
activity is the end of its pre-render, possibly long ago. Once a page takes
it from the pool, the next cull sweep would end it as idle with no
connection, before the page's websocket connects. This manager resets a
kernel's last activity the first time a sweep sees it outside the pool, so
the page has a whole `cull_idle_timeout` to connect.
"""

from jupyter_server._tz import utcnow
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager


class PoolAwareKernelManager(AsyncMappingKernelManager):
    """`AsyncMappingKernelManager` whose sweeps spare kernels just taken from the pool.

    Voila builds its pooling manager on top of this class
    (`VoilaConfiguration.multi_kernel_manager_class`) and only passes
    kernels that are not in the pool to `cull_kernel_if_idle`.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._seen_outside_pool = set()

    async def cull_kernel_if_idle(self, kernel_id):
        kernel = self._kernels.get(kernel_id)
        if kernel is not None and kernel_id not in self._seen_outside_pool:
            self._seen_outside_pool.add(kernel_id)
            kernel.last_activity = utcnow()
            self.log.info("Kernel %s left the preheated pool; its idle time starts now.", kernel_id)
            return
        return await super().cull_kernel_if_idle(kernel_id)

    async def shutdown_kernel(self, kernel_id, *args, **kwargs):
        self._seen_outside_pool.discard(kernel_id)
        return await super().shutdown_kernel(kernel_id, *args, **kwargs)
