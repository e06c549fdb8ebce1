"""LSTM baselines (LSTM-Flan, LSTM-LLaMA) on sb3-contrib's RecurrentPPO.

    from sb3_contrib import RecurrentPPO
    from agents.lstm import InstructionLstmPolicy, lstm_ppo_kwargs
    model = RecurrentPPO(InstructionLstmPolicy, venv, **lstm_ppo_kwargs(n_envs=8),
                         policy_kwargs=dict(features_extractor_kwargs=dict(encoder="llm-resampler")))
"""
from agents.lstm.encoders import ENCODERS, FinalTokenEncoder, PerceiverResampler, ResampledLLMEncoder, \
    build_instruction_encoder
from agents.lstm.extractor import InstructionFrameExtractor
from agents.lstm.policy import InstructionLstmPolicy


def lstm_ppo_kwargs(n_envs: int, n_steps: int = 32, n_minibatches: int = 4) -> dict:
    """RecurrentPPO hyperparameters of the paper's Table 3 (LSTM column) for ``n_envs`` envs."""
    rollout = n_envs * n_steps
    if rollout % n_minibatches:
        raise ValueError(f"n_envs * n_steps = {rollout} must divide into {n_minibatches} minibatches")
    return dict(learning_rate=3e-4, n_steps=n_steps, batch_size=rollout // n_minibatches, n_epochs=2,
                ent_coef=0.01, vf_coef=0.5, max_grad_norm=0.5)


__all__ = ["ENCODERS", "FinalTokenEncoder", "PerceiverResampler", "ResampledLLMEncoder", "build_instruction_encoder",
           "InstructionFrameExtractor", "InstructionLstmPolicy", "lstm_ppo_kwargs"]
