"""An RL-style rollout loop: 32 episodes at once, each in its own sandbox, with the async client.
The policy (a stand-in for a model) proposes shell commands; the reward checks the sandbox.
  PYTHONPATH=python GRID_SERVER=http://127.0.0.1:3000 python3 examples/rollout.py [IMAGE]"""
import asyncio, random, sys

from grid_sandbox import AsyncClient

IMAGE = sys.argv[1] if len(sys.argv) > 1 else "debian:bookworm"
ACTIONS = ["cd /tmp", "mkdir -p out && cd out", "echo 42 > answer", "ls", "pwd", "cat answer"]


def policy(observation: str, rng: random.Random) -> str:  # a model, in a real trainer
    return rng.choice(ACTIONS)


async def episode(client: AsyncClient, seed: int) -> float:
    rng = random.Random(seed)
    async with client.create(image=IMAGE, labels={"episode": str(seed)}) as sandbox:
        observation = ""
        for _ in range(6):
            action = policy(observation, rng)
            observation = (await sandbox.exec(action, timeout=10)).output
        check = await sandbox.exec("cat /tmp/out/answer 2>/dev/null")
        return 1.0 if check.output.strip() == "42" else 0.0


async def main() -> None:
    async with AsyncClient() as client:
        rewards = await asyncio.gather(*(episode(client, seed) for seed in range(32)))
    print(f"{len(rewards)} episodes, mean reward {sum(rewards) / len(rewards):.3f}")


asyncio.run(main())
