/** Who made a request, name-free (the knowledge lives in k8s/identity.ts). */
export { userClass, isActorClass, parseUserAgent } from '../k8s/identity.ts';
