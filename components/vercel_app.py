"""The Vercel project of a stack: the Next.js app, its domains and the env vars of each deployment target."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_random as random
import pulumiverse_vercel as vercel

from settings.app import DeploymentTarget
from settings.app_env import NEXTAUTH_SECRET_LENGTH, EnvVar, app_env
from settings.scaling import FunctionSettings
from settings.stack import StackSettings

# Vercel refuses sensitive variables on the development target, so that `vercel env pull` can read them;
# there a secret is still a Pulumi secret, but not `sensitive` on Vercel's side.
SENSITIVE_TARGETS: frozenset[str] = frozenset({"production", "preview"})
MANAGED_COMMENT = "Managed by vibelog-infra (Pulumi); change it in the stack config, not in the dashboard."


@dataclass(frozen=True)
class Domain:
    """A domain attached to the project."""

    name: str
    """The fully qualified domain name."""
    redirect_to: str | None = None
    """Another domain of the project this one redirects to (308), or None to serve the app."""


@dataclass(frozen=True)
class VercelAppArgs:
    """What the Vercel project of one stack is made of."""

    project_name: str
    """Name of the Vercel project."""
    targets: Sequence[DeploymentTarget]
    """Deployment targets that receive the env vars."""
    domains: Sequence[Domain]
    """Domains of the project; an apex before the names that redirect to it."""
    url: str
    """The app's public URL."""
    env: Sequence[EnvVar]
    """The app env, already validated against the app's env schema."""
    functions: FunctionSettings
    """The functions' CPU type, timeout and regions."""
    runtime_env: Mapping[str, pulumi.Output[str]] = field(default_factory=dict)
    """Secret variables whose values other resources produce (the Edge Config connection string)."""
    secret_rotation: int = 0
    """Generation of NEXTAUTH_SECRET (vibelog:operations.secretRotation): a new value replaces the old one."""

    @classmethod
    def from_settings(
        cls, settings: StackSettings, runtime_env: Mapping[str, pulumi.Output[str]] | None = None
    ) -> VercelAppArgs:
        """The args for the stack these settings describe."""
        domains: list[Domain] = []
        if not settings.is_local:
            domains.append(Domain(settings.domain))
            if settings.app.www_redirect:
                domains.append(Domain(f"www.{settings.domain}", redirect_to=settings.domain))
        return cls(
            project_name=settings.app.project_name,
            targets=tuple(settings.app.targets),
            domains=tuple(domains),
            url=settings.app_url,
            env=tuple(app_env(settings)),
            functions=settings.app.functions,
            runtime_env=dict(runtime_env or {}),
            secret_rotation=settings.operations.secret_rotation,
        )


class VercelApp(pulumi.ComponentResource):
    """One Vercel project per stack, deployed only by the app's pipeline, with its domains and env vars."""

    project_id: pulumi.Output[str]
    """Id of the Vercel project (VERCEL_PROJECT_ID of the stack's pipeline)."""
    url: pulumi.Output[str]
    """The app's public URL."""
    public_env: pulumi.Output[dict[str, str]]
    """The env vars that are not secrets, key to value, in clear: what a reviewer reads a changed URL in."""

    def __init__(self, name: str, args: VercelAppArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("vibelog:vercel:VercelApp", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        # The project is the app's identity on Vercel (deployments, domains, analytics): never replaced by accident.
        # It is not linked to the app's repository (no git_repository): a linked project deploys every push, and a
        # push to the production branch reaches production without the pipeline's tests and approval. The provider
        # offers no switch that stops that: git_provider_options.create_deployments only toggles GitHub Deployment
        # events, and an ignore command can be overridden by any push (vercel.json's ignoreCommand). So every
        # deployment is the pipeline's `vercel --prod` with the token of its GitHub environment. Removing the link
        # from a linked project is an in-place update that unlinks it (vercel/resource_project.go, Update:
        # UnlinkGitRepoFromProject when the plan has no git_repository).
        self.project = vercel.Project(
            f"{name}-project",
            name=args.project_name,
            framework="nextjs",
            # A project whose env does not reach the preview target would build previews without one.
            preview_deployments_disabled="preview" not in args.targets,
            # The reference's Scaling Strategy: resource_config is updated in place (PATCH of the project; nothing
            # in it RequiresReplace, vercel/resource_project.go) and reaches functions from the next deployment on.
            # Fluid compute is declared off: the provider refuses it with standard_legacy
            # (vercel/resource_project_validators.go), the one CPU type within the reference's 1 GB, and a project
            # created since Vercel made fluid the default would otherwise keep it.
            resource_config=vercel.ProjectResourceConfigArgs(
                function_default_cpu_type=args.functions.cpu_type,
                function_default_timeout=args.functions.timeout_seconds,
                function_default_regions=list(args.functions.regions),
                fluid=False,
            ),
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(protect=True)),
        )

        self.domains: dict[str, vercel.ProjectDomain] = {}
        for domain in args.domains:
            redirect_of = self.domains.get(domain.redirect_to) if domain.redirect_to else None
            self.domains[domain.name] = vercel.ProjectDomain(
                f"{name}-domain-{domain.name.replace('.', '-')}",
                project_id=self.project.id,
                domain=domain.name,
                redirect=domain.redirect_to,
                redirect_status_code=308 if domain.redirect_to else None,
                # vercel/resource_project_domain.go: project_id and domain RequiresReplace and Create is a POST;
                # a domain belongs to one project at a time, so a create-first replacement would be refused.
                opts=pulumi.ResourceOptions(
                    parent=self, depends_on=[redirect_of] if redirect_of else [], delete_before_replace=True
                ),
            )

        # NEXTAUTH_SECRET is generated, not set by hand. hashicorp/terraform-provider-random internal/provider/
        # resource_password.go: keepers (RequiresReplaceIfValuesNotNull), length, special and the other character
        # rules RequiresReplace; Create draws from crypto/rand; Delete only forgets; `result` is Sensitive, and the
        # SDK registers it with additional_secret_outputs=["bcryptHash", "result"] (a Pulumi secret from birth).
        # A bump of the rotation generation replaces it, which signs every user out once the app is redeployed.
        # One generation, never two as for the Edge Config token: NextAuth verifies sessions with a single secret.
        # Letters and digits only: no quoting in .env files or shells, and each character counts once in the env
        # schema's length rule.
        self.nextauth_secret = random.RandomPassword(
            f"{name}-nextauth-secret",
            length=NEXTAUTH_SECRET_LENGTH,
            special=False,
            keepers={"secretRotation": str(args.secret_rotation)},
            opts=child,
        )

        # vercel/resource_project_environment_variable.go: key, sensitive, project_id and custom_environment_ids
        # RequiresReplace, and Create is a plain POST (client/environment_variable.go) that fails with ENV_CONFLICT
        # while the old variable still holds the key on a target: replaced delete-first. Between the two calls the
        # key is missing for a deployment built then; running deployments keep the env they were built with.
        env_var_opts = pulumi.ResourceOptions(parent=self, depends_on=[self.project], delete_before_replace=True)
        self.env_vars: list[vercel.ProjectEnvironmentVariable] = []
        values: list[tuple[str, pulumi.Input[str], bool]] = [
            (var.key, pulumi.Output.secret(var.value) if var.secret else var.value, var.secret) for var in args.env
        ]
        runtime_env = {"NEXTAUTH_SECRET": self.nextauth_secret.result, **args.runtime_env}
        values += [(key, pulumi.Output.secret(value), True) for key, value in runtime_env.items()]
        for key, value, secret in values:
            held: list[vercel.ProjectEnvironmentVariable] = []
            for group in _target_groups(args.targets):
                slug = f"{name}-env-{key.lower().replace('_', '-')}"
                # A target group keeps its resource name whether the key is a secret or not: flipping it is then a
                # change of `sensitive` (a delete-first replacement), never a new name created while the old one
                # still holds the key on a target (ENV_CONFLICT; policy/collisions.py). A lone group was named
                # `-dev` when it held a secret before this rule: the alias keeps it.
                alone = len(args.targets) == len(group.targets)
                self.env_vars.append(
                    vercel.ProjectEnvironmentVariable(
                        slug if group.sensitive_capable or alone else f"{slug}-dev",
                        project_id=self.project.id,
                        key=key,
                        value=value,
                        targets=list(group.targets),
                        sensitive=group.sensitive_capable and secret,
                        comment=MANAGED_COMMENT,
                        # The development group is created after the other is changed: a key that gains the
                        # split takes development from the first one before the second claims it.
                        opts=pulumi.ResourceOptions.merge(
                            env_var_opts,
                            pulumi.ResourceOptions(
                                depends_on=held,
                                aliases=[pulumi.Alias(name=f"{slug}-dev")]
                                if alone and secret and not group.sensitive_capable
                                else None,
                            ),
                        ),
                    )
                )
                held = [*held, self.env_vars[-1]]

        self.project_id = self.project.id
        self.url = pulumi.Output.from_input(args.url)
        # The provider marks every env var's `value` secret (Sensitive in its schema: the SDK wraps it and the
        # bridge's Check marks it again), so a plan shows NODE_ENV as [secret] like a key. The values that are not
        # secrets are repeated here, in clear, so a changed URL shows in `pulumi preview` and in the offline diff.
        self.public_env = pulumi.Output.from_input({var.key: var.value for var in args.env if not var.secret})
        self.register_outputs({"project_id": self.project_id, "url": self.url, "public_env": self.public_env})


@dataclass(frozen=True)
class _TargetGroup:
    targets: tuple[str, ...]
    sensitive_capable: bool
    """Targets Vercel lets hold a sensitive value (the variable is sensitive there when it is a secret)."""


def _target_groups(targets: Sequence[str]) -> list[_TargetGroup]:
    """The env-var resources one key needs, the same for a secret and a plain value: the targets that can be
    sensitive, then those that cannot (development)."""
    split = [
        _TargetGroup(tuple(t for t in targets if (t in SENSITIVE_TARGETS) == capable), capable)
        for capable in (True, False)
    ]
    return [group for group in split if group.targets]
