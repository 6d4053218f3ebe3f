"""The Mesa model: Umeå's youths as agents whose state lives in numpy arrays.

Mesa is the frame (a `mesa.Model` built with keyword arguments, one `Youth` agent per youth, a
`DataCollector`), numpy is the engine: every weekly step updates all youths at once. The `Youth`
agents are views of the arrays and the engine never needs them: they are made the first time
someone asks (`model.agents`, `agents_by_type`, `agent_of_slot`), with the ids and order they
would have had if made as the youths came (this saves about 0.2 s of a run). The model only
wires the processes of `sim.processes`, each in its own module with its own `step`, in this order:

1. cohorts (every 52 weeks): ageing, leavers out, newcomers in, schools, living baselines, peers;
2. time: ages and time in stage advance a week;
3. places: visible criminal presence per district;
4. risk: risk factors drift to their living baselines, peer influence, noise, family crises;
5. social services: reports of concern by channel, assessment, investigations, open cases;
6. interventions: the modifiers are reset and the scenario's measures set them anew and act on
   the state (processes before this point see the modifiers the measures set last week: places
   their place actions, social services the detection and information-sharing changes);
7. involvement: entry, desistance, recruitment into the periphery (demand and supply),
   deepening into membership, exit;
8. criminal network: members' turnover, inflow, peripheral recruiters, demand expiry;
9. recording (per-week tables), the DataCollector and the event log.

    model = UmeaModel(seed=1, years=2, gamma_peer=1.1)          # parameters as keywords
    model = UmeaModel.from_scenario("scenarios/baseline.yaml", seed=1, years=2)
    while model.running:
        model.step()
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from functools import partial
from itertools import count
from pathlib import Path
from typing import Any

import mesa
import numpy as np
import scipy.sparse as sp

from sim import kernels
from sim import recruitment as rc
from sim.interventions import InterventionSet, InterventionSpec
from sim.networks import Networks, build_networks
from sim.params import resolve
from sim.population import City, Population, build_population, load_city
from sim.processes.cohorts import Cohorts
from sim.processes.criminal_network import CriminalNetworkProcess
from sim.processes.events import EventLog
from sim.processes.involvement import Involvement
from sim.processes.places import Places
from sim.processes.recording import BAND_OF_COHORT, Recording
from sim.processes.risk import RiskDynamics
from sim.processes.social_services import SocialServices
from sim.results import AGE_BANDS, FLOW_INDEX, FLOWS, Recorder
from sim.risk import FACTORS, peer_pull
from sim.rng import Streams, entity_keys

F32 = np.float32
AGE_EVERY = 4   # weeks between refreshes of the age profiles
BETA_NAMES = tuple(f"beta_{f}" for f in FACTORS)
N_CHANNELS = 4


class _WeakIdCounters(weakref.WeakKeyDictionary):
    """Mesa's per-model agent id counters, held weakly so that a model nobody uses any more is
    freed by the garbage collector without an explicit call (Mesa 3.x holds them strongly)."""

    def __getitem__(self, model: Any) -> Any:
        try:
            return super().__getitem__(model)
        except KeyError:
            counter = count(1)
            self[model] = counter
            return counter


class Youth(mesa.Agent):
    """A youth of Umeå. Its state is row `slot` of the model's arrays."""

    _ids = _WeakIdCounters()

    def __init__(self, model: UmeaModel, slot: int):
        super().__init__(model)
        self.slot = int(slot)
        model.agent_of_slot[self.slot] = self

    @property
    def person_id(self) -> int:
        return int(self.model.pop.person_id[self.slot])

    @property
    def age(self) -> float:
        return float(self.model.pop.age[self.slot])

    @property
    def sex(self) -> str:
        return "male" if self.model.pop.boy[self.slot] else "female"

    @property
    def stage(self) -> str:
        return rc.STAGES[self.model.stage[self.slot]]

    @property
    def district(self) -> str:
        return self.model.city.districts[self.model.pop.district[self.slot]]

    @property
    def risk(self) -> dict[str, float]:
        return dict(zip(FACTORS, map(float, self.model.pop.x[self.slot]), strict=True))


def _seed_from(seed: int | None, rng: Any) -> int:
    """An integer seed for the named streams: the given seed, one drawn from `rng`, or fresh
    entropy from the operating system (so that Mesa's batch_run iterations differ)."""
    if seed is not None:
        return int(seed)
    if isinstance(rng, np.random.Generator):
        return int(rng.integers(0, 2 ** 62))
    if rng is not None:
        return int(np.random.default_rng(rng).integers(0, 2 ** 62))
    return int(np.random.SeedSequence().entropy % (2 ** 62))


class UmeaModel(mesa.Model):
    """Youths aged 3-20 in Umeå, their networks, risk factors and involvement, week by week.

    Every model parameter of `sim/data/parameters.yaml` is a keyword argument (or pass them as one
    mapping, `params`); `scenario` (a path or a loaded `Scenario`) supplies the horizon, the
    interventions and parameter overrides, which explicit keywords override in turn."""

    agent_class = Youth

    def __init__(self, *, seed: int | None = None, rng: Any = None, scenario: Any = None,
                 years: int | None = None, start_year: int | None = None,
                 interventions: Sequence[InterventionSpec] | None = None,
                 params: Mapping[str, float] | None = None, city: City | None = None,
                 **kwargs: float):
        scen = _load(scenario)
        seed_value = _seed_from(seed, rng)
        super().__init__(seed=seed_value)
        where = getattr(scen, "source_file", "") or "UmeaModel parameters"
        self.p = resolve({**(scen.parameters if scen else {}), **(params or {}), **kwargs},
                         where)
        self.scenario = scen
        self.seed_value = seed_value
        self.years = int(years if years is not None else (scen.years if scen else 10))
        self.start_year = int(start_year if start_year is not None
                              else (scen.start_year if scen else 2024))
        if interventions is None:
            interventions = scen.specs() if scen else ()
        self.city = city or load_city()
        self.streams = Streams(seed_value)
        self.week = 0
        shrink = self.p["risk_relaxation_rate"] / (self.p["risk_relaxation_rate"]
                                                   + self.p["peer_influence_rate"])
        self.pop: Population = build_population(seed_value, self.city, shrink)
        n = self.pop.n
        self.stage = np.zeros(n, np.int8)
        self.years_in_stage = np.zeros(n, F32)
        self.recruiter = np.full(n, -1, np.int32)
        self.member_id = np.full(n, -1, np.int32)
        self.mu_eff = self.pop.mu  # baselines after interventions (set by the interventions)
        self.mu_dev = np.zeros((n, len(FACTORS)), F32)  # lasting developmental shifts
        self.protection_dev = np.zeros(n, F32)
        self.mu_dev_active = False  # set True by whoever writes mu_dev / protection_dev
        self.protection_boost = np.zeros(n, F32)
        self.entry_mult, self.recruit_mult, self.desist_mult = (np.ones(n, F32) for _ in range(3))
        self.report_mult = np.ones(n, F32)
        self._age_cache: dict[str, np.ndarray] = {}
        self.factor_sd = self.pop.x.std(axis=0)
        self.protection_sd = float(self.pop.protection.std())
        self.betas = np.array([self.p[b] for b in BETA_NAMES], F32)
        self.cost_this_step = 0.0
        self.flows = np.zeros((self.city.n_districts, len(FLOWS)), np.int32)
        self._flow_cols: dict[tuple[str, ...], np.ndarray] = {}  # count_flows column lists
        self.stage_changes: list[np.ndarray] = []  # youths whose stage changed (for the caches)
        self.reset_modifiers()
        # the processes, in the order they run (module docstring)
        self.events = EventLog(self)
        self.cohorts = Cohorts(self)
        self.places = Places(self)
        self.risk_dynamics = RiskDynamics(self)
        self.social = SocialServices(self)
        self.involvement = Involvement(self)
        self.criminal_network = CriminalNetworkProcess(self)
        self.recording = Recording(self)
        self.build_networks(year=0)
        self.involvement.initialise(self)
        # Mesa agents on demand: until someone asks for them (`agents`, `agents_by_type`,
        # `agent_of_slot`, registering another agent), only each slot's agent id is kept
        self._agent_of_slot: list[Youth | None] = [None] * n  # a list: the GC sees through it
        self._agent_uid = np.zeros(n, np.int64)  # Mesa's unique_id of each slot's youth
        self._uid_next = 1  # Mesa counts ids from 1
        self._deferred = self._bulk_registers() and self.agent_class.__init__ is Youth.__init__
        self.add_youths(range(n))
        self.measures = InterventionSet(list(interventions), self)
        self.social.burn_in(self)
        self.datacollector = WeeklyCollector(model_reporters=_reporters())

    @classmethod
    def from_scenario(cls, path: str | Path, **overrides: Any) -> UmeaModel:
        """A model for the scenario file at `path`; keywords override model arguments (seed,
        years, start_year, interventions) and parameters."""
        return cls(scenario=path, **overrides)

    # ---- shared helpers ---------------------------------------------------------------------
    def build_networks(self, year: int) -> None:
        self.net: Networks = build_networks(self.pop, kernels.row_mean(self.pop.x),
                                            self.streams.seed, year)
        self.peers_t = self.net.peers.T.tocsr()
        self.out_degree = np.diff(self.net.peers.indptr).astype(F32)
        self._district_matrix = None  # made again when next asked for (see district_matrix)
        self._age_cache = {}
        boy, p = self.pop.boy, self.p
        self._sex = {k: rc.sex_factor(boy, p[f"sex_hr_{k}"]) for k in ("entry", "recruit", "progress")}
        self.risk_dynamics.reset()

    def _bulk_registers(self) -> bool:
        """Whether Mesa's agent registers are the ones the bulk methods below were written for
        (Mesa 3.1-3.3: a dict `_agents`, `_agents_by_type` of AgentSets and `_all_agents`, whose
        agents are held in WeakKeyDictionaries)."""
        return (isinstance(getattr(self, "_agents", None), dict)
                and isinstance(getattr(self, "_agents_by_type", None), dict)
                and isinstance(getattr(getattr(self, "_all_agents", None), "_agents", None),
                               weakref.WeakKeyDictionary))

    def add_youths(self, slots: Any) -> None:
        """Mesa agents for the youths in `slots`, registered with the model in bulk.

        The result is what `Youth(self, slot)` for each slot gives (ids counted on from Mesa's
        per-model counter; the model's register, `agents_by_type[Youth]` and `agents` hold them),
        without Mesa's per-agent debug message and set bookkeeping, which were most of a model's
        set-up time. If Mesa's registers are not the ones this was written for (Mesa 3.1-3.3), it
        falls back to creating them one by one."""
        if self._deferred:  # ids only: the agents are made when first asked for
            slots = np.asarray(slots if isinstance(slots, np.ndarray) else list(slots), np.int64)
            self._agent_uid[slots] = np.arange(self._uid_next, self._uid_next + slots.size)
            self._uid_next += int(slots.size)
            return
        slots, cls = [int(s) for s in slots], self.agent_class
        if cls.__init__ is not Youth.__init__ or not self._bulk_registers():
            list(map(partial(cls, self), slots))
            return
        by_type = self._agents_by_type
        ids, new, agents = cls._ids[self], cls.__new__, []
        for slot in slots:
            agent = new(cls)
            agent.model, agent.unique_id, agent.pos, agent.slot = self, next(ids), None, slot
            self._agent_of_slot[slot] = agent
            agents.append(agent)
        self._agents.update(dict.fromkeys(agents))
        if cls not in by_type:
            by_type[cls] = mesa.agent.AgentSet([], random=self.random)
        for register in (by_type[cls]._agents, self._all_agents._agents):
            remove = register._remove
            register.data.update((weakref.ref(a, remove), None) for a in agents)

    def remove_youths(self, slots: Any) -> None:
        """Remove the Mesa agents of the youths in `slots` from the model in bulk.

        The result is what `agent.remove()` for each gives (out of the model's register,
        `agents_by_type` and `agents`; agents already removed are skipped), without Mesa's
        per-agent calls and debug messages. The slots keep pointing to the removed agents until
        `add_youths` fills them. Falls back to `agent.remove()` one by one if Mesa's registers
        are not the ones this was written for or the agent class has its own `remove`."""
        if self._deferred:
            return
        agents = [a for a in map(self._agent_of_slot.__getitem__, slots) if a is not None]
        cls = self.agent_class
        if (cls.remove is not mesa.Agent.remove or not self._bulk_registers()
                or cls not in self._agents_by_type or any(type(a) is not cls for a in agents)):
            for agent in agents:
                agent.remove()
            return
        registered = [a for a in agents if self._agents.pop(a, False) is None]
        for register in (self._agents_by_type[cls]._agents, self._all_agents._agents):
            register._dirty_len = True  # what WeakKeyDictionary.__delitem__ sets
            pop, ref = register.data.pop, weakref.ref
            for agent in registered:
                pop(ref(agent), None)

    # ---- Mesa's agents, made on demand ---------------------------------------------------------
    def _make_agents(self) -> None:
        """Make the Mesa agents of the current youths, as `add_youths` would have made them as
        they came: each with the id it got on arrival, registered in the order of arrival (so
        `agents` iterates as it would have), and Mesa's id counter going on from there. The
        engine's state is in arrays and never needs them; a run made without them is the same."""
        if not self.__dict__.get("_deferred"):
            return
        self._deferred = False
        order = np.argsort(self._agent_uid, kind="stable")
        Youth._ids[self] = iter(self._agent_uid[order].tolist())
        self.add_youths(order)
        Youth._ids[self] = count(self._uid_next)

    @property
    def agent_of_slot(self) -> list[Youth | None]:
        """The Mesa agent of each youth slot."""
        self._make_agents()
        return self._agent_of_slot

    @property
    def agents(self) -> mesa.agent.AgentSet:
        self._make_agents()
        return self._all_agents

    @agents.setter
    def agents(self, agents: Any) -> None:
        mesa.Model.agents.fset(self, agents)  # Mesa's own message: the name is Mesa's

    @property
    def agents_by_type(self) -> dict[type, mesa.agent.AgentSet]:
        self._make_agents()
        return self._agents_by_type

    @property
    def agent_types(self) -> list[type]:
        self._make_agents()
        return list(self._agents_by_type.keys())

    def register_agent(self, agent: Any) -> None:
        self._make_agents()
        super().register_agent(agent)

    def deregister_agent(self, agent: Any) -> None:
        self._make_agents()
        super().deregister_agent(agent)

    def remove_all_agents(self) -> None:
        self._make_agents()
        super().remove_all_agents()

    def keys(self, kind: int, *ids: np.ndarray | int) -> np.ndarray:
        return entity_keys(self.seed_value, kind, *ids)

    def reset_modifiers(self) -> None:
        """This week's modifiers, before the interventions act on them."""
        self.detect_mult = np.ones(N_CHANNELS)
        self.report_mult_active = False
        self.info_share = self.p["info_sharing_school_social"]
        self.uptake = self.p["uptake_voluntary"]
        self.uptake_boost = 0.0
        self.incapacitation_mult = 1.0
        self.place_mult = np.ones(self.city.n_districts)
        self.demand_mult = 1.0
        self.reach_mult = 1.0

    def age_terms(self) -> dict[str, np.ndarray]:
        """Age and sex profiles of the hazards and of peer influence, refreshed every AGE_EVERY
        weeks (ages move 1/52 a year a week; the profiles change little in a month)."""
        if self.week % AGE_EVERY == 0 or not self._age_cache:
            p, age = self.p, self.pop.age
            fused = kernels.age_terms(age, p["entry_age_peak"], p["entry_age_sd"],
                                      p["recruit_age_peak"], p["recruit_age_sd"],
                                      self._sex["entry"], self._sex["recruit"],
                                      np.diff(self.net.peers.indptr) > 0,
                                      p["peer_influence_rate"])
            if fused is not None:  # the same values in two compiled passes
                fused["sex_progress"] = self._sex["progress"]
                self._age_cache = fused
                return fused
            self._age_cache = {
                "entry": rc.age_profile(age, p["entry_age_peak"], p["entry_age_sd"])
                * self._sex["entry"],
                "recruit": rc.age_profile(age, p["recruit_age_peak"], p["recruit_age_sd"])
                * self._sex["recruit"],
                "sex_progress": self._sex["progress"],
                "ramp": rc.late_teen_ramp(age),
                "pull": peer_pull(self.net.peers, age, p["peer_influence_rate"]),
            }
        return self._age_cache

    def mean_risk(self) -> np.ndarray:
        """Mean of the six risk factors per youth, computed once a week."""
        if getattr(self, "_mean_risk_week", None) != self.week:
            self._mean_risk = kernels.row_mean(self.pop.x)
            self._mean_risk_week = self.week
        return self._mean_risk

    def protection(self, idx: np.ndarray) -> np.ndarray:
        """Protective score of youths `idx` with the measures' boosts and lasting effects."""
        prot = self.pop.protection[idx]
        if self.measures.measures or self.mu_dev_active:
            prot = np.clip(prot + self.protection_boost[idx] + self.protection_dev[idx], 0, 1)
        return prot

    def count_flow(self, flow: str, idx: np.ndarray) -> None:
        """Add the youths `idx` to this week's flow `flow`, by district."""
        if len(idx) and not kernels.count_flow(self.flows, FLOW_INDEX[flow], self.pop.district,
                                               idx):
            self.flows[:, FLOW_INDEX[flow]] += np.bincount(self.pop.district[idx],
                                                           minlength=self.flows.shape[0])

    def count_flows(self, flows: tuple[str, ...], idx: np.ndarray, which: np.ndarray) -> None:
        """Add each youth `idx[k]` to flow `flows[which[k]]`, by district, in one count (the
        same as a `count_flow` per flow)."""
        if len(idx):
            cols = self._flow_cols.get(flows)
            if cols is None:
                cols = self._flow_cols[flows] = np.array([FLOW_INDEX[f] for f in flows])
            d = self.flows.shape[0]
            self.flows[:, cols] += np.bincount(which * d + self.pop.district[idx],
                                               minlength=len(flows) * d).reshape(len(flows), d).T

    def count_group(self, flow: int, idx: np.ndarray) -> None:
        """Add the youths `idx` to this week's flow number `flow` of `GROUP_FLOWS`, by age band
        and sex."""
        if idx.size == 0 or self.week < 0:
            return
        pop = self.pop
        key = BAND_OF_COHORT[pop.cohort[idx]] * 2 + pop.boy[idx]
        self.recorder.group_flows[self.week, :, :, flow] += np.bincount(
            key, minlength=2 * len(AGE_BANDS)).reshape(len(AGE_BANDS), 2)

    # ---- views onto the processes' state ----------------------------------------------------
    @property
    def network(self) -> rc.CriminalNetwork:
        return self.criminal_network.net

    @property
    def visibility(self) -> np.ndarray:
        return self.places.visibility

    @property
    def known(self) -> np.ndarray:
        """Youths currently known to social services (an open case)."""
        return self.social.known

    @property
    def district_matrix(self) -> sp.csr_array:
        """Youths by district as a sum operator (districts × slots), made when first asked for
        after the cohorts moved (newcomers in reused slots may live elsewhere than the youths
        they replace); the compiled records do not need it."""
        if self._district_matrix is None:
            n = self.pop.n
            self._district_matrix = sp.csr_array(
                (np.ones(n, F32), (self.pop.district, np.arange(n))),
                shape=(self.city.n_districts, n))
        return self._district_matrix

    @property
    def recorder(self) -> Recorder:
        return self.recording.recorder

    @property
    def horizon(self) -> int:
        return self.years * 52

    # ---- the weekly step ----------------------------------------------------------------------
    def step(self) -> None:
        """Advance the city one week (the order is in the module docstring). Past the horizon
        `running` is False and a step does nothing."""
        if self.week >= self.horizon:
            self.running = False
            return
        self.cohorts.step(self)
        self.pop.age += F32(1 / 52)
        self.years_in_stage += F32(1 / 52)
        self.cost_this_step = 0.0
        self.flows[:] = 0
        self.places.step(self)
        self.risk_dynamics.step(self)
        self.social.step(self)
        self.reset_modifiers()
        self.measures.step(self)
        self.involvement.step(self)
        self.criminal_network.step(self)
        self.recording.step(self)
        self.datacollector.collect(self)
        self.week += 1
        if self.week >= self.horizon:
            self.running = False

    def run(self, progress: Any = None) -> Recorder:
        """Run all weeks of the horizon; `progress` is an optional callable(week)."""
        while self.running:
            self.step()
            if progress is not None:
                progress(self.week)
        return self.recorder

    def release(self) -> None:
        """Kept for callers of earlier versions: models now free themselves (weak id counters)."""
        Youth._ids.pop(self, None)


def _load(scenario: Any) -> Any:
    if scenario is None or hasattr(scenario, "specs"):
        return scenario
    from sim.scenario import load_scenario

    return load_scenario(scenario)


def _reporters() -> dict[str, Any]:
    """Cheap model-level reporters for Mesa's DataCollector (read from this week's records)."""
    def last(fn):
        return lambda m: fn(m, m.week)

    def flow(names):
        idx = [FLOW_INDEX[n] for n in names]
        return last(lambda m, t: int(m.flows[:, idx].sum()))

    def stage_count(k: int):  # from this week's recorded row, not a pass over all youths
        return lambda m: int(m.recorder.stage_counts[m.week, :, k].sum())

    reporters = {f"stage_{s}": stage_count(k) for k, s in enumerate(rc.STAGES)}
    reporters.update({
        "periphery_entries": flow([f"recruited_{k}" for k in rc.LAYERS]),
        "new_members": flow(["new_members"]),
        "reports_of_concern": flow(["reports_school", "reports_social", "reports_police",
                                    "reports_healthcare_other"]),
        "known_to_social_services": lambda m: int(m.social.known.sum()),
        "active_members": lambda m: int((m.network.active & m.network.members).sum()),
        "cost_sek": lambda m: float(m.cost_this_step),
    })
    return reporters


_FLOW_SUMS = (
    ("periphery_entries", [FLOW_INDEX[f"recruited_{k}"] for k in rc.LAYERS]),
    ("new_members", [FLOW_INDEX["new_members"]]),
    ("reports_of_concern", [FLOW_INDEX[f"reports_{c}"] for c in
                            ("school", "social", "police", "healthcare_other")]),
)


class WeeklyCollector(mesa.DataCollector):
    """Mesa's DataCollector with the model's own reporters (`_reporters`) read in one go: the
    same values, without a reporter call and a deep copy per column and week (about half of the
    collector's time). Any other set of reporters, agent reporters or tables are collected by
    Mesa's own `collect`."""

    _NAMES = tuple(_reporters())

    def collect(self, model: Any) -> None:
        if (self.agent_reporters or self.agenttype_reporters
                or tuple(self.model_reporters) != self._NAMES or not isinstance(model, UmeaModel)):
            super().collect(model)
            return
        t, mv = model.week, self.model_vars
        for k, c in enumerate(model.recorder.stage_counts[t].sum(axis=0).tolist()):
            mv[f"stage_{rc.STAGES[k]}"].append(c)
        for name, idx in _FLOW_SUMS:
            mv[name].append(int(model.flows[:, idx].sum()))
        mv["known_to_social_services"].append(int(model.social.known.sum()))
        net = model.network
        mv["active_members"].append(int((net.active & net.members).sum()))
        mv["cost_sek"].append(float(model.cost_this_step))
