"""The engine: hash triggers, memory agent, profit trajectory, thermal zones, store, orchestrator."""
