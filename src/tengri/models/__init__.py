"""Neural models: EnhancedLSTM (LIF, cached attention, memory, multi-timeframe) and QLSTM."""
