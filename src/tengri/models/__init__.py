"""Neural models: EnhancedLSTM (LIF, cached attention, memory, multi-timeframe) and QLSTM."""

from tengri.models.config import EnhancedLSTMConfig, ModelOutput
from tengri.models.enhanced import EnhancedLSTM, EnhancedLSTMState
from tengri.models.factory import create_enhanced_lstm
from tengri.models.lif import LeakyIntegrateAndFire
from tengri.models.placement import SMALL_TENSOR_THREADS, select_device, torch_threads
from tengri.models.qlstm import QLSTM, QLSTMState

__all__ = [
    "QLSTM",
    "SMALL_TENSOR_THREADS",
    "EnhancedLSTM",
    "EnhancedLSTMConfig",
    "EnhancedLSTMState",
    "LeakyIntegrateAndFire",
    "ModelOutput",
    "QLSTMState",
    "create_enhanced_lstm",
    "select_device",
    "torch_threads",
]
